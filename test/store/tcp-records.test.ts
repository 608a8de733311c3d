import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { TcpChunk, TcpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { TcpRecorder } from '../../src/recording/tcp-recorder.js';
import { COPY_MAX_CHUNK, tcpSlabsAllocated } from '../../src/recording/tcp-capture.js';
import { Store } from '../../src/store/index.js';
import { FRAME_HEADER_BYTES, frameTcpChunks, unframeTcpChunks } from '../../src/store/tcp-frames.js';
import { CountingObserver, makeRecord, openStore, storeOptions, tempDir, waitFor } from './helpers.js';

/** A TCP segment; `over` replaces top-level fields. */
function segment(over: Partial<TcpRecord> = {}): TcpRecord {
  const startedAt = over.started_at ?? Date.now();
  return {
    v: 1,
    id: uuidv7(startedAt),
    protocol: 'tcp',
    node_id: 'az-a-1',
    started_at: startedAt,
    duration_ms: 5,
    client: { address: '10.0.0.9', port: 40000 },
    tls: null,
    downstream: '127.0.0.1:6379',
    downstream_tls: false,
    bytes_in: 0,
    bytes_out: 0,
    chunks: [],
    truncated: false,
    state: 'open',
    close_reason: null,
    error: null,
    redacted: [],
    ...over,
  };
}

function chunk(dir: TcpChunk['dir'], t_us: number, data: Buffer | string): TcpChunk {
  return { dir, t_us, data: typeof data === 'string' ? Buffer.from(data) : data };
}

function sameChunks(actual: TcpChunk[], expected: TcpChunk[]): void {
  assert.equal(actual.length, expected.length, 'chunk count');
  actual.forEach((c, i) => {
    const e = expected[i]!;
    assert.equal(c.dir, e.dir, `chunk ${i} dir`);
    assert.equal(c.t_us, e.t_us, `chunk ${i} t_us`);
    assert.ok(Buffer.isBuffer(c.data), `chunk ${i} data is a Buffer`);
    assert.ok(c.data.equals(e.data), `chunk ${i} bytes`);
  });
}

test('framing: tiny chunks share rows, a large chunk is split, and every boundary, direction and offset comes back', () => {
  const chunks = [
    chunk('c2s', 0, 'PING\r\n'),
    chunk('s2c', 120, '+PONG\r\n'),
    chunk('c2s', 2_000_000_000_000, randomBytes(600 * 1024)),
    chunk('s2c', 2_000_000_000_001, Buffer.alloc(0)),
    ...Array.from({ length: 300 }, (_, i) => chunk(i % 2 ? 's2c' : 'c2s', 3e12 + i, randomBytes(1 + (i % 50)))),
  ];
  const rows = frameTcpChunks(chunks, 256 * 1024);
  assert.ok(rows.every((r) => r.length <= 256 * 1024), 'no row above 256 KiB');
  assert.ok(rows.length >= 3 && rows.length <= 5, `few rows (${rows.length})`);
  sameChunks(unframeTcpChunks(rows), chunks);
  assert.equal(rows[0]!.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + 6).toString(), 'PING\r\n');
  assert.throws(() => unframeTcpChunks([rows[0]!.subarray(0, 20)]), { code: 'QP_ERR_STORE_CORRUPT' });
});

test('a TCP session stored in segments reads back whole, with list columns and state', async (t) => {
  const { store } = await openStore(t);
  const first = segment({
    bytes_in: 7,
    bytes_out: 0,
    chunks: [chunk('c2s', 10, 'SET k 1')],
  });
  const big = randomBytes(700 * 1024);
  const second = {
    ...first,
    duration_ms: 20,
    bytes_in: 7 + big.length,
    bytes_out: 5,
    chunks: [chunk('s2c', 50, '+OK\r\n'), chunk('c2s', 90, big)],
  };
  assert.equal(store.offer(first), true);
  await store.flush();
  const open = store.list({ limit: 10 }).records;
  assert.equal(open.length, 1);
  assert.deepEqual(
    { ...open[0], size_bytes: 0 },
    {
      id: first.id,
      protocol: 'tcp',
      node_id: 'az-a-1',
      started_at: new Date(first.started_at).toISOString(),
      duration_ms: 5,
      size_bytes: 0,
      status: null,
      client: '10.0.0.9:40000',
      downstream: '127.0.0.1:6379',
      bytes_in: 7,
      bytes_out: 0,
      error: null,
      state: 'open',
    },
  );

  store.offer(second);
  store.offer({ ...first, duration_ms: 30, bytes_out: 5 + 3, bytes_in: second.bytes_in, chunks: [chunk('s2c', 95, 'end')], state: 'closed', close_reason: 'server_close' });
  await store.flush();
  const [summary, ...rest] = store.list({ limit: 10 }).records;
  assert.equal(rest.length, 0, 'segments update one record');
  assert.equal(summary?.state, 'closed');
  assert.equal(summary?.bytes_in, 7 + big.length);
  assert.equal(summary?.bytes_out, 8);
  assert.equal(summary?.duration_ms, 30);
  const back = store.get(first.id) as TcpRecord;
  assert.equal(back.state, 'closed');
  assert.equal(back.close_reason, 'server_close');
  sameChunks(back.chunks, [...first.chunks, ...second.chunks, chunk('s2c', 95, 'end')]);

  // size_bytes is the chunk rows plus the document, and the store's totals follow the updates.
  const s = store.stats();
  assert.equal(s.count, 1);
  assert.equal(s.bytes, summary?.size_bytes);
  assert.ok(summary && summary.size_bytes > big.length);
});

test('a segment for a closed session, or for an id an HTTP record has, changes nothing', async (t) => {
  const { store, path } = await openStore(t);
  const tcp = segment({ bytes_in: 2, chunks: [chunk('c2s', 1, 'hi')], state: 'closed', close_reason: 'client_close' });
  const http = makeRecord();
  store.offer(tcp);
  store.offer(http);
  await store.flush();
  const before = store.stats();
  store.offer({ ...tcp, bytes_in: 99, chunks: [chunk('c2s', 2, 'again')], state: 'closed', close_reason: 'client_reset' });
  store.offer(segment({ id: http.id, chunks: [chunk('c2s', 2, 'not http')] }));
  await store.flush();
  assert.deepEqual(store.stats(), before);
  const back = store.get(tcp.id) as TcpRecord;
  assert.equal(back.bytes_in, 2);
  assert.equal(back.close_reason, 'client_close');
  sameChunks(back.chunks, tcp.chunks);
  assert.deepEqual(store.get(http.id), http);
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const n = (db.prepare('SELECT COUNT(*) AS n FROM extents').get() as { n: number }).n;
  assert.equal(n, 0, 'no extent was appended');
});

test('protocol=tcp lists only TCP sessions; readAfter returns them with their chunks', async (t) => {
  const { store } = await openStore(t);
  const now = Date.now();
  const http = makeRecord({ started_at: now - 2 });
  const tcp = segment({ started_at: now - 1, bytes_in: 3, chunks: [chunk('c2s', 0, 'abc')], state: 'closed', close_reason: 'client_close' });
  store.offer(http);
  store.offer(tcp);
  await store.flush();
  assert.deepEqual(store.list({ limit: 10, protocol: 'tcp' }).records.map((r) => r.id), [tcp.id]);
  assert.deepEqual(store.list({ limit: 10, protocol: 'http' }).records.map((r) => r.id), [http.id]);
  const fed = store.readAfter(0, 10);
  assert.deepEqual(fed.map((f) => f.record.protocol), ['http', 'tcp']);
  sameChunks((fed[1]!.record as TcpRecord).chunks, tcp.chunks);
  assert.equal(store.list({ limit: 10, protocol: 'http' }).records[0]!.state, undefined, 'HTTP summaries carry no state');
});

test('the caller keeps its chunk Buffers: offering a segment never detaches or changes them', async (t) => {
  const { store } = await openStore(t);
  const backing = randomBytes(64 * 1024);
  const data = backing.subarray(100, 1100);
  const copy = Buffer.from(data);
  const s = segment({ bytes_in: 1000, chunks: [chunk('c2s', 0, data)] });
  store.offer(s);
  await store.flush();
  assert.equal(backing.length, 64 * 1024, 'the socket buffer is still attached');
  assert.ok(data.equals(copy));
  sameChunks((store.get(s.id) as TcpRecord).chunks, [chunk('c2s', 0, copy)]);
});

test('size purge and delete remove TCP sessions with their extents', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const store = await Store.open(storeOptions(path, { maxSizeBytes: 1024 * 1024, purgeIntervalMs: 1_000, segmentBytes: 64 * 1024 }));
  t.after(() => store.close());
  const old = segment({ started_at: Date.now() - 10_000, bytes_in: 900 * 1024, chunks: [chunk('c2s', 0, randomBytes(900 * 1024))], state: 'closed', close_reason: 'client_close' });
  const newer = segment({ bytes_in: 900 * 1024, chunks: [chunk('c2s', 0, randomBytes(900 * 1024))], state: 'closed', close_reason: 'client_close' });
  store.offer(old);
  store.offer(newer);
  await store.flush();
  await waitFor(() => store.get(old.id) === null, 'the oldest session to be purged for size');
  assert.ok(store.get(newer.id) !== null);
  assert.ok(await store.delete(newer.id));
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM extents').get() as { n: number }).n, 0, 'no orphan extent rows');
  assert.deepEqual({ count: store.stats().count, bytes: store.stats().bytes }, { count: 0, bytes: 0 });
});

test('a sync reader asking from chunk N gets the session from the extent holding N on, with the latest document', async (t) => {
  const { store } = await openStore(t);
  const first = segment({ chunks: [chunk('c2s', 0, 'a0'), chunk('s2c', 1, 'a1')] });
  store.offer(first);
  await store.flush();
  // Four more writes of two chunks each: extents hold chunks 0-1, 2-3, 4-5, 6-7, 8-9.
  for (let w = 1; w <= 4; w++) {
    const last = w === 4;
    store.offer({
      ...first,
      duration_ms: 10 * w,
      chunks: [chunk('c2s', 10 * w, `c${2 * w}`), chunk('s2c', 10 * w + 1, `c${2 * w + 1}`)],
      ...(last && { state: 'closed' as const, close_reason: 'client_close' as const }),
    });
    await store.flush();
  }
  const whole = store.readAfter(0, 10)[0]!;
  assert.equal(whole.chunkBase, undefined);
  assert.equal(whole.record.protocol === 'tcp' && whole.record.chunks.length, 10);

  const asked: Array<[string, boolean]> = [];
  const part = store.readAfter(0, 10, (id, open) => {
    asked.push([id, open]);
    return 5;
  })[0]!;
  assert.deepEqual(asked, [[first.id, false]]);
  assert.equal(part.chunkBase, 4, 'read from the extent holding chunk 5');
  const rec = part.record as TcpRecord;
  assert.deepEqual(
    rec.chunks.map((c) => c.data.toString()),
    ['c4', 'c5', 'c6', 'c7', 'c8', 'c9'],
  );
  assert.equal(rec.state, 'closed', 'the document is the latest');
  assert.equal(rec.duration_ms, 40);
  // Past the end: only the last extent is read (it holds the document).
  const tail = store.readAfter(0, 10, () => 100)[0]!;
  assert.equal(tail.chunkBase, 8);
  assert.equal((tail.record as TcpRecord).chunks.length, 2);
});

test('sessions recorded through TcpRecorder read back byte for byte while the chunk slabs are reused, and after drops', async (t) => {
  const observer = new CountingObserver();
  // A small queue, so that some segments of the burst below are dropped (their slab regions go back at once).
  const { store } = await openStore(t, { queueMaxBytes: 3 * 1024 * 1024, observer });
  const rec = new TcpRecorder({ enabled: true, nodeId: 'az-a-1', maxSessionBytes: 1 << 30, segmentIntervalMs: 60_000, segmentBytes: 64 * 1024, sink: store });
  const start = { client: { address: '10.0.0.9', port: 40000 }, tls: null, downstreamTls: false };
  const sent = new Map<string, TcpChunk[]>();
  const taps = Array.from({ length: 3 }, () => {
    const tap = rec.open(start)!;
    tap.connected('127.0.0.1:6379');
    sent.set((tap as unknown as { id: string }).id, []);
    return { tap, id: (tap as unknown as { id: string }).id };
  });
  // Rounds of interleaved reads, each round flushed: more than 16 slabs of 1 MiB pass through, so
  // released slabs are written into again while earlier segments are read back.
  const slabsBefore = tcpSlabsAllocated();
  let copiedBytes = 0;
  for (let round = 0; round < 12; round++) {
    for (let i = 0; i < 40; i++) {
      const { tap, id } = taps[i % 3]!;
      const size = i === 7 && round === 3 ? 300 * 1024 : 1 + ((i * 7919 + round * 104729) % (48 * 1024));
      const data = randomBytes(size);
      const dir = i % 2 ? 's2c' : 'c2s';
      tap.chunk(dir, data);
      sent.get(id)!.push(chunk(dir, 0, Buffer.from(data)));
      // A small read's buffer may be reused by its owner: the recording kept a copy.
      if (size < COPY_MAX_CHUNK) {
        data.fill(0);
        copiedBytes += size;
      }
    }
    await store.flush();
  }
  // Written segments hand their slabs back: far fewer are allocated than the copies filled.
  const slabsMade = tcpSlabsAllocated() - slabsBefore;
  assert.ok(copiedBytes > 4 * 1024 * 1024, `${copiedBytes} bytes copied into slabs`);
  assert.ok(slabsMade <= 3, `${slabsMade} slabs allocated for ${copiedBytes} bytes: written segments' slabs were not reused`);
  for (const { tap } of taps) tap.close('client_close', null);
  await store.flush();
  // A burst without flushes: the queue fills and segments are dropped; what was stored stays whole.
  const burst = rec.open(start)!;
  for (let i = 0; i < 200; i++) burst.chunk('c2s', randomBytes(60 * 1024));
  burst.close('client_close', null);
  await store.flush();
  assert.ok((observer.drops.queue_full ?? 0) > 0, 'the burst overflowed the queue');
  for (const [id, chunks] of sent) {
    const got = store.get(id) as TcpRecord;
    assert.equal(got.state, 'closed');
    assert.equal(got.truncated, false);
    assert.equal(got.chunks.length, chunks.length, `session ${id}: chunk count`);
    got.chunks.forEach((c, i) => {
      assert.equal(c.dir, chunks[i]!.dir, `session ${id} chunk ${i}: direction`);
      assert.ok(c.data.equals(chunks[i]!.data), `session ${id} chunk ${i}: bytes`);
      if (i > 0) assert.ok(c.t_us >= got.chunks[i - 1]!.t_us, 'offsets do not go back');
    });
  }
});
