import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { recordToJson } from '../../src/api/record-json.js';
import type { TcpRecord } from '../../src/recording/model.js';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import {
  ListSink,
  closed,
  connectClient,
  connectTlsClient,
  joined,
  openStore,
  readAll,
  readBytes,
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

/** Writes `data` in pieces of random size (1 B to 40 KiB), each in its own turn of the event loop. */
async function dribble(s: Socket, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 40 * 1024));
    s.write(data.subarray(off, off + n));
    off += n;
    await new Promise((r) => setImmediate(r));
  }
}

test('the stored chunks, joined per direction, are exactly the bytes that went each way', async (t) => {
  const up = randomBytes(2 * 1024 * 1024 + 17);
  const down = randomBytes(3 * 1024 * 1024 + 5);
  let serverGot: Buffer | null = null;
  const backend = await startBackend(t, (s) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    void dribble(s, down).then(() => s.end());
    s.on('end', () => {
      serverGot = Buffer.concat(got);
    });
  });
  const store = await openStore(t);
  // Small segments: the session is stored in many appended pieces.
  const h = await startProxy(t, { targets: [backend.target], sink: store, recording: { segmentBytes: 64 * 1024, segmentIntervalMs: 20 } });
  const c = await connectClient(h.port, true);
  const received = readAll(c);
  await dribble(c, up);
  c.end();
  assert.ok((await received).equals(down), 'the client got the server bytes');
  await closed(c);
  await waitFor(() => serverGot !== null, 'the server to see the end');
  assert.ok(serverGot!.equals(up), 'the server got the client bytes');
  await waitFor(() => h.proxy.inFlight === 0, 'the session to end');
  await store.flush();

  const [summary, ...others] = store.list({ limit: 10 }).records;
  assert.equal(others.length, 0, 'one record for the session, however many segments');
  assert.ok(summary);
  assert.equal(summary.protocol, 'tcp');
  assert.equal(summary.client, `127.0.0.1:${(await recordOf(store, summary.id)).client.port}`);
  assert.equal(summary.downstream, backend.target);
  assert.equal(summary.bytes_in, up.length);
  assert.equal(summary.bytes_out, down.length);
  assert.equal(summary.state, 'closed');
  const record = await recordOf(store, summary.id);
  assert.ok(joined(record, 'c2s').equals(up), 'c2s chunks reproduce the client stream');
  assert.ok(joined(record, 's2c').equals(down), 's2c chunks reproduce the server stream');
  assert.ok(record.chunks.length > 20, `many chunks (${record.chunks.length})`);
  for (let i = 1; i < record.chunks.length; i++) {
    assert.ok(record.chunks[i]!.t_us >= record.chunks[i - 1]!.t_us, 'chunks are in arrival order');
  }
  assert.equal(record.truncated, false);
  assert.equal(record.close_reason, 'client_close');
  assert.deepEqual(record.redacted, []);
});

async function recordOf(store: { get(id: string): unknown }, id: string): Promise<TcpRecord> {
  const r = store.get(id) as TcpRecord | null;
  assert.ok(r && r.protocol === 'tcp');
  return Promise.resolve(r);
}

test('an open session is listed (state "open") with its bytes so far, then updated in place when it closes', async (t) => {
  const backend = await startEcho(t);
  const store = await openStore(t);
  const h = await startProxy(t, { targets: [backend.target], sink: store, recording: { segmentIntervalMs: 30 } });
  const c = await connectClient(h.port);
  c.write('SET k v\r\n');
  await readBytes(c, 9);

  let open: ReturnType<typeof store.list>['records'][number] | undefined;
  await waitFor(() => {
    open = store.list({ limit: 5, protocol: 'tcp' }).records[0];
    return open?.state === 'open' && open.bytes_in === 9 && open.bytes_out === 9;
  }, 'the open session in the list');
  const partial = await recordOf(store, open!.id);
  assert.equal(partial.state, 'open');
  assert.equal(partial.close_reason, null);
  assert.equal(joined(partial, 'c2s').toString(), 'SET k v\r\n');

  c.write('GET k\r\n');
  await readBytes(c, 7);
  c.end();
  await closed(c);
  await waitFor(() => store.list({ limit: 5 }).records[0]?.state === 'closed', 'the closed session');
  const list = store.list({ limit: 5 }).records;
  assert.equal(list.length, 1, 'still one record');
  assert.equal(list[0]!.id, open!.id);
  assert.equal(list[0]!.bytes_in, 16);
  const final = await recordOf(store, open!.id);
  assert.equal(joined(final, 'c2s').toString(), 'SET k v\r\nGET k\r\n');
  assert.equal(joined(final, 's2c').toString(), 'SET k v\r\nGET k\r\n');
  assert.equal(final.close_reason, 'client_close');
});

test('the per-session byte cap keeps the first bytes, counts the rest and marks the record truncated', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink, recording: { maxSessionBytes: 1000 } });
  const c = await connectClient(h.port);
  const payload = randomBytes(5000);
  const back = readAll(c);
  c.end(payload);
  assert.ok((await back).equals(payload));
  await waitFor(() => sink.closed.length === 1, 'the session record');
  const all = { ...sink.closed[0]!, chunks: sink.segments.flatMap((s) => s.chunks) };
  assert.equal(all.truncated, true);
  assert.equal(all.bytes_in, 5000);
  assert.equal(all.bytes_out, 5000);
  const kept = all.chunks.reduce((n, ch) => n + ch.data.length, 0);
  assert.equal(kept, 1000);
  // What was kept is the start of the session, in order, whatever the direction.
  const c2s = joined(all, 'c2s');
  const s2c = joined(all, 's2c');
  assert.ok(payload.subarray(0, c2s.length).equals(c2s));
  assert.ok(payload.subarray(0, s2c.length).equals(s2c));
});

test('a TLS listener records SNI, the negotiated ALPN and the TLS version, and passes the protocol on', async (t) => {
  let downstreamAlpn: string | false | null = null;
  const backend = await startBackend(
    t,
    (s) => {
      downstreamAlpn = (s as import('node:tls').TLSSocket).alpnProtocol;
      s.pipe(s);
    },
    { ...pki.server, alpn: ['redis'] },
  );
  const sink = new ListSink();
  const h = await startProxy(t, {
    targets: [backend.target],
    sink,
    tls: { cert: pki.server.cert, key: pki.server.key, alpnProtocols: ['x-proto', 'redis'] },
    downstreamTls: { ca: pki.ca, rejectUnauthorized: true, servername: 'localhost' },
  });
  const c = await connectTlsClient(h.port, { ca: pki.ca, servername: 'localhost', ALPNProtocols: ['redis'] });
  assert.equal(c.alpnProtocol, 'redis');
  c.write('PING\r\n');
  assert.equal((await readBytes(c, 6)).toString(), 'PING\r\n');
  c.end();
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'the session record');
  const r = sink.closed[0]!;
  assert.deepEqual(r.tls, { sni: 'localhost', alpn: 'redis', version: 'TLSv1.3' });
  assert.equal(r.downstream_tls, true);
  assert.equal(downstreamAlpn, 'redis', 'the protocol the client chose was offered to the downstream');
});

test('mutual TLS: a client without a certificate is refused and counted, one with a certificate is proxied', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink, tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca } });

  const anonymous = await connectTlsClient(h.port, { ca: pki.ca, servername: 'localhost' }).catch((err: Error) => err);
  if (!(anonymous instanceof Error)) {
    // TLS 1.3: the client learns of the refusal only after its handshake, on the first read.
    anonymous.write('x');
    assert.equal((await readAll(anonymous)).length, 0);
  }
  await waitFor(() => h.observer.rejections.includes('tls_handshake'), 'the refused handshake to be counted');
  assert.equal(backend.accepted, 0);

  const c = await connectTlsClient(h.port, { ca: pki.ca, servername: 'localhost', cert: pki.client.cert, key: pki.client.key });
  c.write('with cert');
  assert.equal((await readBytes(c, 9)).toString(), 'with cert');
  c.end();
  await closed(c);
  await waitFor(() => sink.closed.length === 1, 'one session record (the refused handshake is not a session)');
});

test('recording switched off: traffic flows and nothing is offered to the sink', async (t) => {
  const backend = await startEcho(t);
  const sink = new ListSink();
  const h = await startProxy(t, { targets: [backend.target], sink, recording: { enabled: false } });
  const c = await connectClient(h.port);
  c.write('quiet');
  assert.equal((await readBytes(c, 5)).toString(), 'quiet');
  c.end();
  await closed(c);
  await waitFor(() => h.proxy.inFlight === 0, 'the session to end');
  assert.equal(sink.segments.length, 0);
  assert.equal(h.observer.closed.length, 1, 'the session is still counted');
});

test('the API shows a stored session with base64 chunks, their direction, offset, size and text', async (t) => {
  const backend = await startEcho(t);
  const store = await openStore(t);
  const h = await startProxy(t, { targets: [backend.target], sink: store });
  const c = await connectClient(h.port);
  c.write('hello');
  await readBytes(c, 5);
  c.write(Buffer.from([0xff, 0xfe]));
  await readBytes(c, 2);
  c.end();
  await closed(c);
  await waitFor(() => h.proxy.inFlight === 0, 'the session to end');
  await store.flush();
  const id = store.list({ limit: 1 }).records[0]!.id;
  const json = recordToJson(await recordOf(store, id));
  assert.equal(json.protocol, 'tcp');
  assert.ok('chunks' in json);
  const [first, second, third, fourth] = json.chunks;
  assert.deepEqual({ ...first, t_us: 0 }, { dir: 'c2s', t_us: 0, encoding: 'base64', data: Buffer.from('hello').toString('base64'), size: 5, text: 'hello' });
  assert.equal(second?.dir, 's2c');
  assert.equal(second?.text, 'hello');
  assert.deepEqual({ ...third, t_us: 0 }, { dir: 'c2s', t_us: 0, encoding: 'base64', data: '//4=', size: 2 });
  assert.equal(fourth?.text, undefined, 'binary chunks have no text');
  assert.ok(first && second && third && second.t_us >= first.t_us && third.t_us >= second.t_us);
  const wire = JSON.parse(JSON.stringify(json)) as { chunks: unknown[]; state: string };
  assert.equal(wire.chunks.length, 4);
  assert.equal(wire.state, 'closed');
});
