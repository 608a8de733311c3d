/**
 * The link's security: h2 over TLS with certificates made at test time, the bearer token, the
 * peer's certificate verified against peer.ca, and mutual TLS with an identity allow-list. Every
 * refusal must store nothing and say clearly, in status and log, what to fix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { MemoryLog, allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, syncMetrics, tempDir, waitFor } from './helpers.js';

let pki: TestPki;
let otherPki: TestPki;

before(async () => {
  [pki, otherPki] = await Promise.all([makeTestPki(), makeTestPki()]);
});
after(async () => {
  await pki?.cleanup();
  await otherPki?.cleanup();
});

function serverTls(ca?: string): { cert: Buffer; key: Buffer; ca?: Buffer } {
  return { cert: Buffer.from(pki.server.cert), key: Buffer.from(pki.server.key), ...(ca !== undefined && { ca: Buffer.from(ca) }) };
}

test('h2 over TLS with a token: records arrive identical, compressed with brotli', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const records = Array.from({ length: 150 }, (_, i) => httpRecord(i));
  await fill(a, records);
  const { receiver, port } = await startReceiver(t, { store: b, tls: serverTls(), token: 'sync-secret-token-0123456789abcdef' });
  const sender = await startSender(
    t,
    senderOptions(a, port, {
      peer: { host: 'localhost', port, tls: true, ca: Buffer.from(pki.ca), token: 'sync-secret-token-0123456789abcdef' },
      compression: 'br',
    }),
  );
  await waitFor(() => b.stats().count === records.length, 'all records over TLS');
  const got = allRecords(b);
  for (const r of records) assert.deepEqual(got.get(r.id), a.get(r.id));
  const s = sender.status();
  assert.equal(s.tls, true);
  assert.equal(s.compression, 'br');
  assert.equal(receiver.status().tls, true);
  assert.equal(receiver.status().token, true);
});

test('a wrong token is refused (401), nothing is stored, and both sides say so once', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  await fill(a, Array.from({ length: 10 }, (_, i) => httpRecord(i)));
  const rx = syncMetrics();
  const { receiver, port, log: rxLog } = await startReceiver(t, { store: b, tls: serverTls(), token: 'the-right-token', observer: rx.metrics });
  const txLog = new MemoryLog();
  const tx = syncMetrics();
  const sender = await startSender(
    t,
    senderOptions(a, port, {
      peer: { host: '127.0.0.1', port, tls: true, ca: Buffer.from(pki.ca), token: 'a-wrong-token' },
      logger: txLog,
      observer: tx.metrics,
      backoffInitialMs: 10,
      backoffMaxMs: 50,
    }),
  );
  await waitFor(() => (sender.status().last_error?.attempts ?? 0) >= 3, 'several refused attempts');
  const err = sender.status().last_error!;
  assert.equal(err.reason, 'unauthorized');
  assert.equal(err.code, 'QP_ERR_SYNC_UNAUTHORIZED');
  assert.match(err.message, /token/);
  assert.equal(b.stats().count, 0, 'nothing stored');
  assert.equal(sender.status().cursor, 0);
  assert.equal(txLog.count('error', 'refused our token'), 1, 'the sender logs the refusal once, not per retry');
  assert.equal(rxLog.count('error', 'bearer token is wrong'), 1, 'the receiver logs it once too');
  assert.equal(receiver.status().last_error?.code, 'QP_ERR_SYNC_UNAUTHORIZED');
  assert.ok((rx.metrics.failuresByReason().unauthorized ?? 0) >= 3);
  assert.ok((tx.metrics.failuresByReason().unauthorized ?? 0) >= 3);
  assert.deepEqual(receiver.status().ledger, {}, 'unauthenticated batches never reach the ledger');
});

test('a missing token is warned about at start and shows as unauthorized as soon as the link is up, with nothing to send', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const rx = syncMetrics();
  const { port } = await startReceiver(t, { store: b, token: 'the-right-token', observer: rx.metrics });
  // An empty store: no batch will ever be refused, only the check as the link comes up can tell.
  const noTokenLog = new MemoryLog();
  const noToken = await startSender(t, senderOptions(a, port, { logger: noTokenLog, backoffInitialMs: 10, backoffMaxMs: 50 }));
  assert.equal(noTokenLog.count('warn', 'peer.token is not set'), 1, 'warned at start');
  await waitFor(() => noToken.status().last_error?.reason === 'unauthorized', 'the token refused at link-up');
  assert.equal(noToken.status().connected, false);
  assert.notEqual(noToken.status().state, 'connected');
  assert.equal(noToken.status().last_error?.code, 'QP_ERR_SYNC_UNAUTHORIZED');
  assert.equal(noToken.status().sent.batches, 0);
  await noToken.close(500);

  const withTokenLog = new MemoryLog();
  const withToken = await startSender(t, senderOptions(a, port, { peer: { host: '127.0.0.1', port, tls: false, token: 'the-right-token' }, logger: withTokenLog }));
  await waitFor(() => withToken.status().state === 'connected', 'connected with the right token');
  assert.equal(withTokenLog.count('warn', 'peer.token is not set'), 0);
  assert.equal(b.stats().count, 0);
  assert.match(await rx.registry.metrics(), /^qproxy_sync_batches_total\{role="receiver",outcome="ok"\} 0$/m);
});

test('an untrusted peer certificate is refused before anything is sent, with a hint to set peer.ca', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  await fill(a, Array.from({ length: 5 }, (_, i) => httpRecord(i)));
  const { port } = await startReceiver(t, { store: b, tls: serverTls() });
  const txLog = new MemoryLog();
  // No peer.ca: the system store does not know the test CA. Then the wrong CA explicitly.
  for (const ca of [undefined, Buffer.from(otherPki.ca)]) {
    const sender = await startSender(t, senderOptions(a, port, { peer: { host: 'localhost', port, tls: true, ...(ca && { ca }) }, logger: txLog }));
    await waitFor(() => sender.status().last_error !== null, 'the TLS failure');
    const err = sender.status().last_error!;
    assert.equal(err.reason, 'tls_untrusted');
    assert.equal(err.code, 'QP_ERR_SYNC_TLS');
    assert.match(err.message, /peer\.ca/);
    assert.equal(sender.status().connected, false);
    await sender.close(100);
  }
  assert.equal(b.stats().count, 0);
  assert.ok(txLog.count('error', 'not trusted') >= 1);
});

test('mutual TLS: a client certificate on the allow-list is accepted; another identity gets 403; without an accepted certificate the handshake fails', async (t) => {
  const dir = await tempDir(t);
  // One source store per sender: each keeps its own durable cursor.
  const source = async (name: string) => {
    const s = await openStore(t, join(dir, `${name}.db`));
    await fill(s, Array.from({ length: 25 }, (_, i) => httpRecord(i)));
    return s;
  };
  const clientPeer = (port: number, client?: { cert: string; key: string }) => ({
    host: 'localhost',
    port,
    tls: true,
    ca: Buffer.from(pki.ca),
    ...(client && { cert: Buffer.from(client.cert), key: Buffer.from(client.key) }),
  });

  // Allowed identity: the client certificate's CN/SAN is "qproxy-test-client".
  const okStore = await openStore(t, join(dir, 'ok.db'));
  const ok = await startReceiver(t, { store: okStore, tls: serverTls(pki.ca), allowedClients: ['qproxy-test-client'] });
  await startSender(t, senderOptions(await source('a1'), ok.port, { peer: clientPeer(ok.port, pki.client) }));
  await waitFor(() => okStore.stats().count === 25, 'records from the allowed client');
  assert.deepEqual(ok.receiver.status().peers['az-a-1']?.identity.includes('qproxy-test-client'), true);

  // Signed by the right CA, but not on the list.
  const deniedStore = await openStore(t, join(dir, 'denied.db'));
  const denied = await startReceiver(t, { store: deniedStore, tls: serverTls(pki.ca), allowedClients: ['az-b-9.qproxy.internal'] });
  const s2 = await startSender(t, senderOptions(await source('a2'), denied.port, { peer: clientPeer(denied.port, pki.client) }));
  await waitFor(() => s2.status().last_error !== null, 'the 403');
  assert.equal(s2.status().last_error?.reason, 'forbidden');
  assert.match(s2.status().last_error!.message, /allowed_clients/);

  // No client certificate at all, and one from another CA: the handshake itself fails.
  const s3 = await startSender(t, senderOptions(await source('a3'), denied.port, { peer: clientPeer(denied.port) }));
  const s4 = await startSender(t, senderOptions(await source('a4'), denied.port, { peer: clientPeer(denied.port, otherPki.client) }));
  await waitFor(() => s3.status().last_error !== null && s4.status().last_error !== null, 'the handshake failures');
  for (const s of [s3, s4]) {
    assert.equal(s.status().last_error!.reason, 'tls', 'reported as a TLS refusal');
    assert.match(s.status().last_error!.message, /peer\.cert/);
    assert.equal(s.status().connected, false);
  }
  await waitFor(() => denied.log.has('TLS handshake'), 'the receiver to log the handshake failure');
  assert.equal(deniedStore.stats().count, 0);
});

test("a failed TLS handshake on the sync listener is described as it happened, with the peer's real address", async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const plain = await startReceiver(t, { store: b, tls: serverTls() });
  // A sender that does not trust the receiver's certificate hangs up mid-handshake.
  const untrusting = await startSender(t, senderOptions(a, plain.port, { peer: { host: 'localhost', port: plain.port, tls: true } }));
  await waitFor(() => plain.log.has('closed the connection during the TLS handshake'), 'the hang-up described');
  await untrusting.close(500);
  // A sender with peer.tls false speaks h2c to the TLS port.
  const h2c = await startSender(t, senderOptions(a, plain.port));
  await waitFor(() => plain.log.has('does not speak TLS'), 'the plain-text client described');
  await h2c.close(500);
  await new Promise<void>((resolve) => {
    const c = connect(plain.port, '127.0.0.1', () => c.end('GET / HTTP/1.1\r\nHost: b\r\n\r\n'));
    c.on('error', () => {});
    c.on('close', () => resolve());
  });
  await waitFor(() => plain.log.has('a plain HTTP client on the TLS sync port'), 'the HTTP/1 client described');
  const lines = plain.log.lines.filter((l) => l.msg.startsWith('sync peer failed the TLS handshake'));
  assert.equal(lines.length, 3, lines.map((l) => l.msg).join('\n'));
  for (const line of lines) {
    assert.match((line.obj as { address: string }).address, /^127\.0\.0\.1:\d+$/, 'the real address, even after a reset');
    assert.equal(line.level, 'warn', 'possibly a stray client: a warning');
    assert.doesNotMatch(line.msg, /client certificate|sync\.tls\.ca/, 'mutual TLS is not configured, so not blamed');
  }
  assert.match(lines[0]!.msg, /peer\.ca must hold the CA that signed sync\.tls\.tls_cert/);
  assert.match(plain.receiver.status().last_error?.message ?? '', /^TLS handshake with 127\.0\.0\.1:\d+ failed: a plain HTTP client/);

  // With mutual TLS, a sender without a client certificate is told exactly that.
  const mutual = await startReceiver(t, { store: b, tls: serverTls(pki.ca) });
  await startSender(t, senderOptions(a, mutual.port, { peer: { host: 'localhost', port: mutual.port, tls: true, ca: Buffer.from(pki.ca) } }));
  await waitFor(() => mutual.log.has('the peer sent no client certificate'), 'the missing client certificate described');
  const refused = mutual.log.lines.find((l) => l.msg.includes('the peer sent no client certificate'))!;
  assert.equal(refused.level, 'error');
  assert.match(refused.msg, /set peer\.cert and peer\.key on the Record node/);
  assert.match((refused.obj as { address: string }).address, /^127\.0\.0\.1:\d+$/);
});
