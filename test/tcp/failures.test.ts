import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import {
  ListSink,
  closed,
  connectClient,
  readAll,
  readBytes,
  refusedPort,
  startBackend,
  startEcho,
  startProxy,
  waitFor,
} from './helpers.js';

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});
after(() => pki.cleanup());

test('downstream refused: the client is closed and the record says connect_failed', async (t) => {
  const port = await refusedPort();
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [`127.0.0.1:${port}`], sink });
  const c = await connectClient(h.port);
  c.write('anyone there?');
  const got = await readAll(c);
  assert.equal(got.length, 0);
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  const r = sink.closed[0]!;
  assert.equal(r.close_reason, 'connect_failed');
  assert.equal(r.downstream, null);
  assert.equal(r.error?.code, 'QP_ERR_DOWNSTREAM_CONNECT');
  assert.match(r.error?.message ?? '', /ECONNREFUSED/);
  assert.equal(r.bytes_in, 0, 'nothing was relayed');
  assert.deepEqual(h.observer.closed.map((e) => e.reason), ['connect_failed']);
});

test('failover: the first endpoint refuses, the session is connected to the second', async (t) => {
  const dead = await refusedPort();
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [`127.0.0.1:${dead}`, backend.target], sink });
  for (let i = 0; i < 4; i++) {
    const c = await connectClient(h.port);
    c.write(`round ${i}`);
    assert.equal((await readBytes(c, 7)).toString(), `round ${i}`);
    c.end();
    await closed(c);
  }
  await waitFor(() => sink.closed.length === 4, 'four session records');
  assert.ok(sink.closed.every((r) => r.downstream === backend.target && r.close_reason === 'client_close'));
  const deadRow = h.discovery.snapshot().find((e) => e.endpoint === `127.0.0.1:${dead}`);
  assert.ok(deadRow && deadRow.total_failures >= 1, 'the refusal was reported to discovery');
  assert.equal(backend.accepted, 4);
});

test('downstream reset mid-stream: the client is reset and the record says server_reset', async (t) => {
  const backend = await startBackend(t, (s) => {
    s.on('data', (d: Buffer) => {
      if (d.includes('boom')) s.resetAndDestroy();
      else s.write(d);
    });
  });
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const c = await connectClient(h.port);
  c.write('fine');
  assert.equal((await readBytes(c, 4)).toString(), 'fine');
  c.write('boom');
  await closed(c);
  assert.equal(c.lastError?.code, 'ECONNRESET', 'the client saw a reset, not a clean close');
  await waitFor(() => sink.closed.length === 1, 'the session record');
  const r = sink.closed[0]!;
  assert.equal(r.close_reason, 'server_reset');
  assert.equal(r.error?.code, 'ECONNRESET');
  assert.equal(r.bytes_in, 8);
});

test('client reset: the downstream is reset and the record says client_reset', async (t) => {
  let serverError: string | undefined;
  const backend = await startBackend(t, (s) => {
    s.on('error', (err: NodeJS.ErrnoException) => {
      serverError = err.code;
    });
    s.pipe(s);
  });
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const c = await connectClient(h.port);
  c.write('hi');
  await readBytes(c, 2);
  c.resetAndDestroy();
  await waitFor(() => sink.closed.length === 1, 'the session record');
  assert.equal(sink.closed[0]!.close_reason, 'client_reset');
  await waitFor(() => serverError !== undefined, 'the downstream to see the reset');
  assert.equal(serverError, 'ECONNRESET');
});

test('connect timeout: a downstream that never finishes the TLS handshake ends as connect_timeout', async (t) => {
  // Accepts the TCP connection and never answers: only the TLS handshake can time out on loopback.
  const silent = await startBackend(t, () => undefined);
  const sink = new ListSink();
  const h = await startProxy(t, {
    targets: [silent.target],
    sink,
    connectMs: 150,
    downstreamTls: { ca: pki.ca, rejectUnauthorized: true },
  });
  const c = await connectClient(h.port);
  assert.equal((await readAll(c)).length, 0);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  const r = sink.closed[0]!;
  assert.equal(r.close_reason, 'connect_timeout');
  assert.equal(r.error?.code, 'QP_ERR_DOWNSTREAM_TIMEOUT');
  assert.match(r.error?.message ?? '', /TLS handshake within 150 ms/);
});

test('downstream TLS with a certificate QProxy does not trust ends as tls_error', async (t) => {
  const backend = await startEcho(t, pki.server);
  const sink = new ListSink();
  // No CA given: the test CA is not in the system store.
  const h = await startProxy(t, { targets: [backend.target], sink, downstreamTls: { rejectUnauthorized: true } });
  const c = await connectClient(h.port);
  assert.equal((await readAll(c)).length, 0);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  assert.equal(sink.closed[0]!.close_reason, 'tls_error');
  assert.equal(sink.closed[0]!.error?.code, 'QP_ERR_DOWNSTREAM_CONNECT');
  assert.match(sink.closed[0]!.error?.message ?? '', /TLS handshake with downstream .* failed/);
});

test('a client that goes away while the proxy is still connecting is recorded once, as client_reset', async (t) => {
  let dropped = 0;
  // Never answers the TLS handshake; notes when the proxy gives up on the connection.
  const silent = await startBackend(t, (s) => {
    s.resume();
    s.once('close', () => dropped++);
    s.once('end', () => s.destroy());
  });
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [silent.target], sink, connectMs: 5_000, downstreamTls: { ca: pki.ca, rejectUnauthorized: true } });
  const c = await connectClient(h.port);
  await waitFor(() => silent.accepted === 1, 'the proxy to be connecting');
  c.resetAndDestroy();
  await waitFor(() => sink.closed.length === 1, 'the session record');
  assert.equal(sink.closed[0]!.close_reason, 'client_reset');
  await waitFor(() => dropped === 1, 'the half-made downstream connection to be dropped');
  assert.equal(h.proxy.inFlight, 0);
  assert.equal(h.observer.closed.length, 1);
});
