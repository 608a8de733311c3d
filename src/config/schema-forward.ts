/**
 * The `forward` section: a forward-proxy listener (HTTP_PROXY / HTTPS_PROXY) that records what an
 * application calls out to. Plain requests come in absolute form; `CONNECT host:port` is either
 * intercepted with leaf certificates minted from QProxy's CA (`ca`) or, for `tunnel_hosts` and when no
 * CA is configured, relayed as an opaque byte tunnel recorded as a TCP session. Access rules follow
 * security.md §2: loopback by default, and a non-loopback bind needs a client allow-list or proxy
 * credentials (checked in rules.ts).
 */
import { z } from 'zod';
import { count, filePath, hostName, ipOrCidr, listenPort, nonEmpty, secret } from './fields.js';
import { limitsSchema, tcpRecordingSchema, timeoutsSchema } from './schema-listeners.js';

const caSchema = z
  .strictObject({
    cert: filePath('a PEM CA certificate').describe('CA certificate (PEM) leaf certificates are signed with; `qproxy ca create` writes one (ca.pem). Relative paths are resolved against the config file\'s folder.'),
    key: filePath('a PEM private key file').describe('The CA\'s private key (PEM, EC or RSA; ca-key.pem from `qproxy ca create`). Keep it readable by QProxy only.'),
  })
  .describe('QProxy\'s certificate authority for intercepting CONNECT. Without it every CONNECT is tunnelled (recorded as TCP).');

const authSchema = z
  .strictObject({
    username: nonEmpty('a user name').refine((u) => !u.includes(':'), { error: 'expected a user name without ":"' }).describe('User name clients send in Proxy-Authorization: Basic.'),
    password: secret('a password').describe('Password clients send in Proxy-Authorization: Basic. Overridden by QPROXY_FORWARD_PASSWORD (keep it out of the file).'),
  })
  .describe('Proxy authentication: every request and CONNECT must carry Proxy-Authorization: Basic with these credentials, or gets 407.');

const hostPatternError = 'expected a host name pattern like "bank.example.com", "*.example.com" or "*"';

/** `api.example.com`, `*.example.com`, `10.0.0.7`, `*`: `*` stands for any run of characters. */
function hostPattern() {
  return z.string({ error: hostPatternError }).regex(/^[A-Za-z0-9_.*:[\]-]{1,253}$/, { error: hostPatternError });
}

const allowPortError = 'expected a list of ports 1-65535 like [443, 80]';

/** The forward-proxy listener. */
export const forwardSchema = z
  .strictObject({
    host: hostName().default('127.0.0.1').describe('Address to listen on. Default "127.0.0.1"; any other address needs allow_clients or auth.'),
    port: listenPort().describe('Port to listen on (required). 0 picks a free port. Clients use http://HOST:PORT as HTTP_PROXY and HTTPS_PROXY.'),
    ca: caSchema.optional(),
    upstream_ca: filePath('a PEM CA bundle')
      .optional()
      .describe('Extra CA certificates (PEM) trusted for the real hosts, on top of Node\'s bundled Mozilla CA list (internal or test CAs).'),
    insecure_upstream: z
      .boolean({ error: 'expected true or false' })
      .default(false)
      .describe('Do not verify the real hosts\' certificates. Default false; QProxy warns at start when it is on. Test setups only.'),
    tunnel_hosts: z
      .array(hostPattern(), { error: 'expected a list of host name patterns' })
      .default([])
      .describe('CONNECT targets never intercepted (certificate pinning, mutual TLS): relayed as byte tunnels and recorded as TCP sessions. "*" matches any run of characters. Default [].'),
    allow_ports: z
      .array(z.int({ error: allowPortError }).min(1, { error: allowPortError }).max(65535, { error: allowPortError }), { error: allowPortError })
      .min(1, { error: allowPortError })
      .default([443, 80])
      .describe('Ports CONNECT may reach; others get 403. Default [443, 80].'),
    allow_clients: z
      .array(ipOrCidr(), { error: 'expected a list of IP addresses or CIDR ranges' })
      .default([])
      .describe('Client addresses (IPs or CIDR ranges) allowed to use the proxy; others get 403. Default [] (any client that reaches the listener).'),
    auth: authSchema.optional(),
    cert_cache_size: count(1, 1_000_000)
      .prefault(1000)
      .describe('Leaf certificates kept (least recently used ones are dropped and minted again when needed). Default 1000.'),
    limits: limitsSchema,
    timeouts: timeoutsSchema,
    tunnel_recording: tcpRecordingSchema.describe('How CONNECT tunnels are recorded as TCP sessions (same keys as tcp.recording).'),
  })
  .describe('The forward-proxy listener (HTTP_PROXY / HTTPS_PROXY): absolute-form requests and CONNECT, intercepted with QProxy\'s CA. Optional; either mode.');
