/**
 * The traffic listeners: `http` (HTTP/HTTPS reverse proxy) and `tcp` (raw TCP proxy). Defaults for
 * limits and timeouts follow reliability.md §1: every timeout has a non-zero default and the
 * header limits match what Node and Envoy enforce.
 */
import { z } from 'zod';
import { count, downstreamUrls, filePath, hostName, hostPorts, ipOrCidr, listenPort } from './fields.js';
import { httpBalancingSchema, tcpBalancingSchema } from './schema-balancing.js';
import { MAX_TIMER_MS, duration, size } from './units.js';

/** Certificate and key a listener serves TLS with (PEM files). */
export const tlsFilesSchema = z
  .strictObject({
    tls_cert: filePath('a PEM certificate file').describe(
      'Certificate chain (PEM) the listener presents. Relative paths are resolved against the config file\'s folder.',
    ),
    tls_key: filePath('a PEM private key file').describe('Private key (PEM) for tls_cert. Relative paths are resolved against the config file\'s folder.'),
    ca: filePath('a PEM CA bundle')
      .optional()
      .describe('Optional CA bundle (PEM). When set, clients must present a certificate signed by it (mutual TLS).'),
  })
  .describe('Serve TLS on this listener. Both tls_cert and tls_key are required.');

/**
 * Default connection limit of each listener, so that a flood of idle connections cannot take every
 * file handle of the process (the API, the store and the other listeners need theirs). A proxied
 * connection holds up to two (client and downstream): 4096 need about 8200, well under the hard
 * limits services usually get (Node raises its soft limit to the hard one at start: 524288 under
 * systemd ≥ 240, often 1048576 in containers). Memory, measured on the HTTP listener: about 5 KiB
 * per idle plain connection and 50–90 KiB with TLS or HTTP/2, so 4096 stay under about 370 MiB.
 */
export const DEFAULT_MAX_CONNECTIONS = 4096;

function timer(def: string, what: string, opts: { min?: number } = {}) {
  return duration({ example: def, min: opts.min ?? 1, max: MAX_TIMER_MS })
    .prefault(def)
    .describe(`${what} Default "${def}". At most "24d".`);
}

export const limitsSchema = z
  .strictObject({
    max_header_size: size({ example: '16KiB', min: 1024 })
      .prefault('16KiB')
      .describe('Largest request head (request line and headers) accepted; larger ones get 431. Default "16KiB", at least "1KiB".'),
    max_headers_count: count(1, 10_000)
      .prefault(100)
      .describe('Most header lines a request may carry; more get 431. Default 100.'),
    max_body_size: size({ example: '10MiB' })
      .prefault(0)
      .describe(
        'Largest request body proxied; larger ones get 413. 0 = unlimited (default). Independent of storage.max_body, which only truncates what is recorded.',
      ),
    max_connections: count(0)
      .prefault(DEFAULT_MAX_CONNECTIONS)
      .describe(
        `Most client connections open at once; further ones are closed on accept (counted as too_many_connections). Default ${DEFAULT_MAX_CONNECTIONS}; 0 = unlimited. Each one costs a file handle (two while a request is forwarded) and memory (about 5 KiB plain, 50–90 KiB with TLS).`,
      ),
  })
  .prefault({})
  .describe('Size and count limits for client requests.');

export const timeoutsSchema = z
  .strictObject({
    header_read: timer('15s', 'Time a client has to send the complete request head (slowloris defence).'),
    request: timer('300s', 'Time a client has to send the whole request, body included. 0 = off, for long uploads.', { min: 0 }),
    idle: timer('60s', 'How long an idle client keep-alive connection stays open. Keep it longer than any load balancer in front.'),
    downstream_connect: timer('3s', 'Time to open a connection (and TLS handshake) to the downstream; a timeout answers 504.'),
    downstream_response: timer('30s', 'Time from sending the request until the downstream\'s response head arrives; a timeout answers 504.'),
    downstream_idle: timer('300s', 'Inactivity allowed while streaming a body or an upgraded (WebSocket) tunnel.'),
  })
  .prefault({})
  .describe('Timeouts; durations are numbers of milliseconds or strings like "30s".');

const downstreamTlsSchema = z
  .strictObject({
    ca: filePath('a PEM CA bundle')
      .optional()
      .describe('CA bundle (PEM) to trust for https:// downstreams, instead of the system store.'),
    reject_unauthorized: z
      .boolean({ error: 'expected true or false' })
      .default(true)
      .describe('Verify the downstream\'s certificate. Default true; false only for test setups.'),
    servername: hostName()
      .optional()
      .describe('TLS server name (SNI) to send and verify; default: the downstream URL\'s host.'),
  })
  .prefault({})
  .describe('How QProxy connects to https:// downstreams.');

/** The HTTP/HTTPS listener and where it forwards to. */
export const httpSchema = z
  .strictObject({
    host: hostName().default('127.0.0.1').describe('Address to listen on. Default "127.0.0.1".'),
    port: listenPort().describe('Port to listen on (required). 0 picks a free port.'),
    downstream: downstreamUrls()
      .optional()
      .transform((urls) => urls ?? [])
      .describe(
        'Where requests go: an http:// or https:// URL, or a list of them (balanced). Required in Record mode; in Playback mode it is the replay target. Read as a list, empty when absent.',
      ),
    tls: tlsFilesSchema.optional(),
    trusted_proxies: z
      .array(ipOrCidr(), { error: 'expected a list of IP addresses or CIDR ranges' })
      .default([])
      .describe(
        'Addresses (IPs or CIDR ranges) of proxies in front of QProxy whose X-Forwarded-* headers are kept and extended; others are replaced. Default [].',
      ),
    downstream_tls: downstreamTlsSchema,
    limits: limitsSchema,
    timeouts: timeoutsSchema,
    balancing: httpBalancingSchema,
  })
  .describe('The HTTP/HTTPS listener (HTTP/1.1, and HTTP/2 over TLS). Optional.');

const tcpDownstreamTlsSchema = z
  .strictObject({
    enabled: z
      .boolean({ error: 'expected true or false' })
      .default(false)
      .describe('Speak TLS to the downstream. Default false (plain TCP).'),
    ca: filePath('a PEM CA bundle')
      .optional()
      .describe('CA bundle (PEM) to trust for the downstream\'s certificate, instead of the system store. Needs enabled: true.'),
    servername: hostName()
      .optional()
      .describe('TLS server name (SNI) to send and verify; default: the downstream\'s host name (none for an IP address). Needs enabled: true.'),
    reject_unauthorized: z
      .boolean({ error: 'expected true or false' })
      .default(true)
      .describe('Verify the downstream\'s certificate. Default true; false only for test setups.'),
  })
  .prefault({})
  .describe('TLS from QProxy to the downstream. Off by default.');

const tcpTimeoutsSchema = z
  .strictObject({
    connect: timer('3s', 'Time to connect to one downstream address (TLS handshake included); then the next address is tried, up to 3 per connection.'),
    idle: timer('300s', 'A session with no bytes in either direction for this long is closed (close_reason "idle_timeout"). A client\'s TLS handshake must finish within the smaller of this and "15s".'),
  })
  .prefault({})
  .describe('TCP timeouts; durations are numbers of milliseconds or strings like "30s".');

const tcpLimitsSchema = z
  .strictObject({
    max_connections: count(0)
      .prefault(DEFAULT_MAX_CONNECTIONS)
      .describe(
        `Most client connections open at once; further ones are closed on accept. Default ${DEFAULT_MAX_CONNECTIONS}; 0 = unlimited. Each session holds two file handles (client and downstream).`,
      ),
  })
  .prefault({})
  .describe('Connection limits of the TCP listener.');

export const tcpRecordingSchema = z
  .strictObject({
    max_session_bytes: size({ example: '16MiB' })
      .prefault('16MiB')
      .describe('Bytes of one session kept in its record (both directions together); beyond it bytes are counted, not kept, and the record is marked truncated. Default "16MiB".'),
    segment_interval: duration({ example: '1s', min: 10, max: MAX_TIMER_MS })
      .prefault('1s')
      .describe('An open session\'s new chunks are written to the store at least this often, so it is listed while in progress and memory stays bounded. Default "1s", at least "10ms".'),
    segment_bytes: size({ example: '256KiB', min: 1024 })
      .prefault('256KiB')
      .describe('... or as soon as this many new bytes are waiting. Default "256KiB", at least "1KiB".'),
    on_overload: z
      .enum(['drop', 'backpressure'], { error: 'expected "drop" or "backpressure"' })
      .default('drop')
      .describe(
        'When the store cannot keep up: "drop" (default) sheds segments (counted as queue_full, the record marked truncated) and traffic flows on at full speed; "backpressure" pauses the session\'s sockets while the store\'s queue is past half full, so that every byte is kept and the traffic slows down to what the disk takes.',
      ),
  })
  .prefault({})
  .describe('How TCP sessions are recorded (recording.enabled switches recording off altogether).');

/** The raw TCP listener and its downstreams. */
export const tcpSchema = z
  .strictObject({
    host: hostName().default('127.0.0.1').describe('Address to listen on. Default "127.0.0.1".'),
    port: listenPort().describe('Port to listen on (required). 0 picks a free port.'),
    downstream: hostPorts()
      .optional()
      .transform((targets) => targets ?? [])
      .describe(
        'Where connections go: "host:port" strings (IPv6 as "[::1]:6379"); a single string is accepted too. Required in Record mode. Read as a list, empty when absent.',
      ),
    tls: tlsFilesSchema.optional().describe('Terminate TLS on the listener with these files; set ca to require client certificates (mutual TLS). Optional.'),
    protocol: z
      .enum(['raw', 'postgres', 'redis', 'mysql'], { error: 'expected "raw", "postgres", "redis" or "mysql"' })
      .default('raw')
      .describe(
        'What the connections carry. "raw" (default): bytes only. "postgres" (v3), "redis" (RESP2/RESP3) or "mysql" (MySQL/MariaDB): the bytes are still recorded as they are, and the API, replay and comparison read them as messages (a conversation of requests and answers; replay re-authenticates with playback.tcp.auth). A Playback node reads records without a protocol with its own tcp.protocol.',
      ),
    downstream_tls: tcpDownstreamTlsSchema,
    timeouts: tcpTimeoutsSchema,
    limits: tcpLimitsSchema,
    recording: tcpRecordingSchema,
    balancing: tcpBalancingSchema,
  })
  .describe('The raw TCP listener. Optional.');
