import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  ListSink,
  closed,
  connectClient,
  readAll,
  readBytes,
  startBackend,
  startEcho,
  startProxy,
  waitFor,
} from './helpers.js';

test('echo: bytes go both ways and the session ends as client_close', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const c = await connectClient(h.port);
  const clientPort = c.localPort;
  c.write('hello, proxy');
  assert.equal((await readBytes(c, 12)).toString(), 'hello, proxy');
  c.write(Buffer.from([0, 1, 2, 255]));
  assert.deepEqual([...(await readBytes(c, 4))], [0, 1, 2, 255]);
  c.end();
  await readAll(c);
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  const r = sink.closed[0]!;
  assert.equal(r.close_reason, 'client_close');
  assert.equal(r.downstream, backend.target);
  assert.equal(r.bytes_in, 16);
  assert.equal(r.bytes_out, 16);
  assert.equal(r.client.address, '127.0.0.1');
  assert.equal(r.client.port, clientPort);
  assert.deepEqual(h.observer.bytesBy, { c2s: 16, s2c: 16 });
  assert.equal(h.observer.opened, 1);
  assert.deepEqual(h.observer.closed.map((e) => e.reason), ['client_close']);
  assert.equal(h.proxy.inFlight, 0);
});

test('half-close: the client ends its side, the server still sends everything, then both close', async (t) => {
  const reply = randomBytes(3 * 1024 * 1024);
  let serverSawEnd = false;
  const backend = await startBackend(t, (s) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      serverSawEnd = true;
      // Answer only after the client's FIN: the other direction must still be open.
      s.write(`received ${Buffer.concat(got).length} bytes\n`);
      s.end(reply);
    });
  });
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const c = await connectClient(h.port);
  const answer = readAll(c);
  c.end(Buffer.alloc(5000, 7));
  const body = await answer;
  assert.ok(serverSawEnd, 'the FIN reached the server');
  const header = 'received 5000 bytes\n';
  assert.equal(body.subarray(0, header.length).toString(), header);
  assert.ok(body.subarray(header.length).equals(reply), 'every byte sent after the half-close arrived');
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  assert.equal(sink.closed[0]!.close_reason, 'client_close');
  assert.equal(sink.closed[0]!.bytes_out, header.length + reply.length);
});

test('half-close the other way: the server ends first, the client keeps sending, close_reason server_close', async (t) => {
  let got = 0;
  const backend = await startBackend(t, (s) => {
    s.end('bye\n');
    s.on('data', (d: Buffer) => {
      got += d.length;
    });
  });
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const c = await connectClient(h.port, true);
  assert.equal((await readAll(c)).toString(), 'bye\n');
  assert.ok(c.readableEnded && c.writable, 'the client saw the FIN and can still write');
  // The server's side is closed; the client's still carries bytes to it.
  c.write(Buffer.alloc(100_000, 1));
  await waitFor(() => got === 100_000, 'the bytes sent after the server FIN');
  c.end();
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  assert.equal(sink.closed[0]!.close_reason, 'server_close');
  assert.equal(sink.closed[0]!.bytes_in, 100_000);
});

test('200 concurrent connections each get their own bytes back', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const results = await Promise.all(
    Array.from({ length: 200 }, async () => {
      const payload = randomBytes(8 * 1024 + Math.floor(Math.random() * 8192));
      const c = await connectClient(h.port);
      const back = readAll(c);
      c.end(payload);
      return { sent: payload, got: await back };
    }),
  );
  for (const [i, r] of results.entries()) assert.ok(r.got.equals(r.sent), `connection ${i} got its own bytes back`);
  await waitFor(() => sink.closed.length === 200, 'all 200 session records');
  assert.equal(new Set(sink.closed.map((r) => r.id)).size, 200, 'one record id per connection');
  assert.ok(sink.closed.every((r) => r.close_reason === 'client_close'));
  await waitFor(() => h.proxy.inFlight === 0, 'no session left');
});

test('idle timeout: no bytes either way closes the session with idle_timeout', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink, idleMs: 150 });
  const c = await connectClient(h.port);
  c.write('ping');
  assert.equal((await readBytes(c, 4)).toString(), 'ping');
  assert.equal((await readAll(c)).length, 0, 'the proxy closes the idle connection');
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  assert.equal(sink.closed[0]!.close_reason, 'idle_timeout');
  assert.equal(sink.closed[0]!.error?.code, 'QP_ERR_TCP_IDLE_TIMEOUT');
  await waitFor(() => backend.sockets.size === 0, 'the downstream socket closed too');
});

test('max_connections: connections beyond the limit are closed on accept and counted', async (t) => {
  const backend = await startEcho(t);
  const h = await startProxy(t, { targets: [backend.target], maxConnections: 2 });
  const a = await connectClient(h.port);
  const b = await connectClient(h.port);
  for (const s of [a, b]) {
    s.write('x');
    assert.equal((await readBytes(s, 1)).toString(), 'x');
  }
  const extra = await connectClient(h.port);
  const got = await readAll(extra);
  assert.equal(got.length, 0, 'the extra connection is closed without a byte');
  await waitFor(() => h.observer.rejections.includes('too_many_connections'), 'the rejection to be counted');
  assert.equal(backend.accepted, 2, 'the refused connection never reached the downstream');
  a.end();
  b.end();
  await Promise.all([closed(a), closed(b)]);
});

test('beginDrain stops accepting; close() waits for sessions, then ends the rest as shutdown', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink });
  const c = await connectClient(h.port);
  c.write('x');
  await readBytes(c, 1);
  h.proxy.beginDrain();
  const refused = await new Promise<string>((resolve) => {
    const s = connectClient(h.port);
    s.then(() => resolve('connected'), (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  assert.equal(refused, 'ECONNREFUSED');
  assert.equal(h.proxy.inFlight, 1);
  const rest = readAll(c);
  await h.proxy.close(100);
  assert.equal((await rest).length, 0);
  await closed(c);
  assert.equal(h.proxy.inFlight, 0);
  assert.equal(sink.closed.length, 1);
  assert.equal(sink.closed[0]!.close_reason, 'shutdown');
});
