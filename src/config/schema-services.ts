/**
 * The node-to-node and operator-facing sections: `peer` (where a Record node sends records), `sync`
 * (where a Playback node receives them) and `api` (the HTTP API, both modes).
 */
import { z } from 'zod';
import { filePath, hostName, listenPort, nonEmpty, remotePort, secret } from './fields.js';
import { tlsFilesSchema } from './schema-listeners.js';
import { peerSyncFields, syncReceiverFields } from './schema-sync.js';

/** Record mode: the Playback node records are streamed to. */
export const peerSchema = z
  .strictObject({
    host: hostName().describe('Host name or IP of the Playback node\'s sync listener (required).'),
    port: remotePort().default(8084).describe('Port of the Playback node\'s sync listener. Default 8084.'),
    tls: z.boolean({ error: 'expected true or false' }).default(false).describe('Connect with TLS. Default false; use true across zones.'),
    token: secret('a token')
      .optional()
      .describe('Shared secret sent as a bearer token; must equal the receiver\'s sync.token. Overridden by QPROXY_PEER_TOKEN.'),
    ca: filePath('a PEM CA bundle').optional().describe('CA bundle (PEM) to trust for the peer\'s certificate. Needs tls: true.'),
    cert: filePath('a PEM certificate file').optional().describe('Client certificate (PEM) for mutual TLS. Needs key and tls: true.'),
    key: filePath('a PEM private key file').optional().describe('Private key (PEM) for cert. Needs cert and tls: true.'),
    ...peerSyncFields,
  })
  .describe('Record mode: where recordings are sent. Optional; without it records stay in the local store.');

/** Playback mode: the listener Record nodes push to. */
export const syncSchema = z
  .strictObject({
    host: hostName().default('0.0.0.0').describe('Address to listen on. Default "0.0.0.0" (peers are in another zone).'),
    port: listenPort().default(8084).describe('Port to listen on. Default 8084.'),
    tls: tlsFilesSchema.optional().describe('Serve TLS with these files; set ca to require client certificates (mutual TLS).'),
    token: secret('a token')
      .optional()
      .describe('Bearer token peers must present. Overridden by QPROXY_SYNC_TOKEN.'),
    ...syncReceiverFields,
  })
  .prefault({})
  .describe('Playback mode: the listener Record nodes push recordings to. Ignored in Record mode. Defaults apply when absent.');

/** The HTTP API. */
export const apiSchema = z
  .strictObject({
    host: hostName().default('127.0.0.1').describe('Address to listen on. Default "127.0.0.1".'),
    port: listenPort().default(8085).describe('Port to listen on. Default 8085. 0 picks a free port.'),
    token: secret('a token')
      .optional()
      .describe('Bearer token required on every call except /healthz. Overridden by QPROXY_API_TOKEN.'),
    allowed_hosts: z
      .array(nonEmpty('a Host header value like "qproxy.internal:8085"'), { error: 'expected a list of Host header values' })
      .default([])
      .describe(
        'Extra Host header values accepted besides loopback names and addresses and the bound address (DNS-rebinding defence). Default [].',
      ),
    ui: z
      .boolean({ error: 'expected true or false' })
      .default(true)
      .describe('Serve the web UI at /ui/ on this listener (login with api.token; a session cookie, never the token in a URL). Default true; false turns it off.'),
  })
  .prefault({})
  .describe('The HTTP API and /metrics. Defaults apply when absent (127.0.0.1:8085).');
