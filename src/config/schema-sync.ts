/**
 * Tuning keys of cross-zone sync, spread into the `peer` (sender) and `sync` (receiver) sections
 * of schema-services.ts.
 */
import { z } from 'zod';
import { count, nonEmpty } from './fields.js';
import type { RuleInput, RuleIssue } from './rules.js';
import { MAX_TIMER_MS, duration, size } from './units.js';

function timer(def: string, what: string, min = 1) {
  return duration({ example: def, min, max: MAX_TIMER_MS })
    .prefault(def)
    .describe(`${what} Default "${def}".`);
}

/** Sender keys, under `peer`. */
export const peerSyncFields = {
  batch_max_records: count(1, 100_000).default(500).describe('Most records (or TCP session segments) in one sync batch. Default 500.'),
  batch_max_bytes: size({ example: '4MiB', min: 64 * 1024, max: 1024 ** 3 })
    .prefault('4MiB')
    .describe(
      'Approximate largest sync batch before compression; a single larger record travels alone, a larger TCP session in parts. Must stay below the receiver\'s sync.max_batch_bytes. Default "4MiB".',
    ),
  compression: z
    .enum(['br', 'gzip', 'none'], { error: 'expected "br", "gzip" or "none"' })
    .default('br')
    .describe(
      'Compression of sync batches: "br" (default; brotli quality 4: measured 2.8x on mixed HTTP traffic against 2.4x for gzip, with less CPU), "gzip" (level 6) or "none" (CPU-starved nodes on fast links).',
    ),
  streams: count(1, 64).default(4).describe('Batches in flight at once over the HTTP/2 connection (one stream each). Default 4.'),
  ping_interval: timer('5s', 'How often an HTTP/2 PING checks the link, also while idle.', 100),
  ping_timeout: timer('5s', 'A PING unanswered this long marks the link dead (blackholed peers are found this way, not by TCP timeouts).', 100),
  connect_timeout: timer('10s', 'Time to connect and finish the TLS handshake with the peer.', 100),
  ack_timeout: timer('60s', 'Time for the peer to acknowledge a batch (it does so after storing it).', 100),
  backoff_initial: timer('250ms', 'First wait before reconnecting after a failure; doubles on each further failure (with jitter).', 10),
  backoff_max: timer('30s', 'Longest wait between reconnect attempts; also the wait after a wrong token or untrusted certificate.', 10),
  poll_interval: duration({ example: '100ms', min: 10, max: 10_000 })
    .prefault('100ms')
    .describe('How often the store is checked for new records once everything is sent. Default "100ms", at most "10s".'),
};

/** Receiver keys, under `sync`. */
export const syncReceiverFields = {
  max_batch_bytes: size({ example: '64MiB', min: 1024 * 1024, max: 1024 ** 3 })
    .prefault('64MiB')
    .describe('Largest sync batch accepted, compressed or decompressed; larger ones are refused with 413. Default "64MiB".'),
  max_connections: count(0)
    .default(256)
    .describe(
      'Most connections open at once on the sync listener, authenticated or not; further ones are closed on accept and counted (qproxy_sync_connections_refused_total). Default 256 (each Record node holds one); 0 = unlimited.',
    ),
  max_connections_per_address: count(0)
    .default(16)
    .describe(
      'Most connections open at once from one client IP address; further ones are closed on accept. Default 16; raise it when more Record nodes than that reach this node through one address (NAT). 0 = unlimited.',
    ),
  auth_timeout: timer(
    '10s',
    'Time a new sync connection gets to finish its TLS handshake and pass the access checks (token, client certificate) once; otherwise it is closed. Senders check their access as soon as their link is up.',
    100,
  ),
  allowed_clients: z
    .array(nonEmpty('a certificate name like "az-a-1.qproxy.internal" or "spiffe://qproxy/az-a-1"'), {
      error: 'expected a list of certificate names',
    })
    .default([])
    .describe(
      'With mutual TLS (sync.tls.ca): client certificate names (subject CN, DNS or URI SAN) allowed to push records; others get 403. Default [] = any certificate signed by sync.tls.ca.',
    ),
};

/** Cross-field rules of the sync keys. */
export function syncRules(config: RuleInput): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const sync = config.sync as Record<string, unknown> | undefined;
  const allowed = sync?.allowed_clients;
  const tls = sync?.tls as Record<string, unknown> | undefined;
  if (config.mode === 'Playback' && Array.isArray(allowed) && allowed.length > 0 && tls?.ca === undefined) {
    issues.push({
      path: ['sync', 'allowed_clients'],
      message: 'names client certificates, but sync.tls.ca is not set, so no client certificate is asked for — set sync.tls (with ca) or remove allowed_clients',
      plain: true,
    });
  }
  const peer = config.peer as Record<string, unknown> | undefined;
  if (typeof peer?.ping_timeout === 'number' && typeof peer.ack_timeout === 'number' && peer.ack_timeout < peer.ping_timeout) {
    issues.push({ path: ['peer', 'ack_timeout'], message: 'is shorter than peer.ping_timeout — a batch would time out before a dead link is noticed', plain: true });
  }
  if (typeof peer?.backoff_initial === 'number' && typeof peer.backoff_max === 'number' && peer.backoff_max < peer.backoff_initial) {
    issues.push({ path: ['peer', 'backoff_max'], message: 'is shorter than peer.backoff_initial — raise it or lower backoff_initial', plain: true });
  }
  return issues;
}
