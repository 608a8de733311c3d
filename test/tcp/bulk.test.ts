import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import type { TcpRecord } from '../../src/recording/model.js';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import {
  BulkPattern,
  closed,
  connectClient,
  connectTlsClient,
  hashUntilEnd,
  openStore,
  sendPattern,
  startBackend,
  startProxy,
  waitFor,
} from './helpers.js';
import type { ProxyOptions } from './helpers.js';

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;

let pki: TestPki;
// Each pattern is hashed once for all three variants.
const up = new BulkPattern(TOTAL);
const down = new BulkPattern(TOTAL);
let upSha = '';
let downSha = '';
before(async () => {
  pki = await makeTestPki();
  upSha = up.sha256();
  downSha = down.sha256();
});
after(() => pki.cleanup());

/**
 * 100 MiB each way at the same time through the proxy, sha256-checked on both ends, and recorded
 * into a real store with a 4 MiB session cap (the rest counted, not kept).
 */
async function bulk(t: TestContext, variant: { tlsListener: boolean; tlsDownstream: boolean }): Promise<void> {
  const server: { got?: Promise<{ bytes: number; sha256: string }>; sent?: Promise<void> } = {};
  const backend = await startBackend(
    t,
    (s: Socket) => {
      server.got = hashUntilEnd(s);
      server.sent = sendPattern(s, down, true);
    },
    variant.tlsDownstream ? pki.server : undefined,
  );
  const store = await openStore(t);
  const opts: ProxyOptions = { targets: [backend.target], sink: store, recording: { maxSessionBytes: 4 * MiB } };
  if (variant.tlsListener) opts.tls = { cert: pki.server.cert, key: pki.server.key };
  if (variant.tlsDownstream) opts.downstreamTls = { ca: pki.ca, rejectUnauthorized: true };
  const h = await startProxy(t, opts);

  // Half-open clients: the server may finish sending (FIN) while the client still uploads.
  const c = variant.tlsListener
    ? await connectTlsClient(h.port, { ca: pki.ca, servername: 'localhost' }, true)
    : await connectClient(h.port, true);
  const clientGot = hashUntilEnd(c);
  await sendPattern(c, up, true);
  const received = await clientGot;
  await waitFor(() => server.got !== undefined, 'the backend connection');
  const atServer = await server.got!;
  await server.sent;
  await closed(c);

  assert.equal(atServer.bytes, TOTAL, 'client → server byte count');
  assert.equal(atServer.sha256, upSha, 'client → server bytes unchanged');
  assert.equal(received.bytes, TOTAL, 'server → client byte count');
  assert.equal(received.sha256, downSha, 'server → client bytes unchanged');

  await waitFor(() => h.proxy.inFlight === 0, 'the session to end');
  await store.flush();
  const [summary] = store.list({ limit: 10, protocol: 'tcp' }).records;
  assert.ok(summary, 'the session was stored');
  assert.equal(summary.bytes_in, TOTAL);
  assert.equal(summary.bytes_out, TOTAL);
  assert.equal(summary.state, 'closed');
  const record = store.get(summary.id) as TcpRecord;
  assert.equal(record.truncated, true);
  const kept = record.chunks.reduce((n, ch) => n + ch.data.length, 0);
  assert.equal(kept, 4 * MiB, 'exactly the session cap was kept');
  assert.equal(record.downstream_tls, variant.tlsDownstream);
  assert.equal(record.tls?.version !== undefined && record.tls !== null, variant.tlsListener);
}

test('100 MiB each way through a plain listener, checksummed', (t) => bulk(t, { tlsListener: false, tlsDownstream: false }));

test('100 MiB each way through a TLS listener, checksummed', (t) => bulk(t, { tlsListener: true, tlsDownstream: false }));

test('100 MiB each way to a TLS downstream, checksummed', (t) => bulk(t, { tlsListener: false, tlsDownstream: true }));
