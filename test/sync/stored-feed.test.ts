/**
 * The sender's feed read as stored (Store.readStoredAfter, batch-reader.ts): HTTP records come as
 * their checked frames, a page's extents are read in runs. A damaged frame inside a run is still
 * that one record's damage; pages over several segments, mixed HTTP/TCP/WebSocket batches and the
 * format 1 fallback (which parses the stored documents) deliver every record whole.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { uuidv7 } from '../../src/core/uuidv7.js';
import type { HttpRecord, QRecord, TcpRecord } from '../../src/recording/model.js';
import type { StoredFeedItem } from '../../src/store/index.js';
import { decodeBatch } from '../../src/sync/wire-format.js';
import { MemoryLogger, flipExtentByte } from '../store/helpers.js';
import { allRecords, fill, httpRecord, listenH2, openStore, senderOptions, startReceiver, startSender, tcpSegment, tempDir, waitFor } from './helpers.js';

/** Segments and extents of a store's rows, by record id. */
function extents(path: string): Map<string, { seg: number; off: number; len: number }> {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare('SELECT id, seg, off, len FROM records ORDER BY seq').all() as Array<{ id: string; seg: number; off: number; len: number }>;
  db.close();
  return new Map(rows.map((r) => [r.id, r]));
}

/** The whole feed as the sender reads it. */
function storedFeed(store: { readStoredAfter(seq: number, limit: number): StoredFeedItem[] }, page = 500): StoredFeedItem[] {
  const out: StoredFeedItem[] = [];
  for (let seq = 0; ; ) {
    const items = store.readStoredAfter(seq, page);
    if (items.length === 0) return out;
    out.push(...items);
    seq = items[items.length - 1]!.seq;
  }
}

/** A stored item as the record it stands for (what a receiver rebuilds from it). */
function asRecord(item: StoredFeedItem): QRecord {
  if (!('stored' in item)) return item.record;
  const r = JSON.parse(item.stored.doc.toString('utf8')) as HttpRecord;
  r.request.body.data = item.stored.request;
  if (r.response) r.response.body.data = item.stored.response;
  return r;
}

function wsRecord(i: number): HttpRecord {
  const base = httpRecord(i);
  const empty = { data: Buffer.alloc(0), size: 0, truncated: false };
  return {
    ...base,
    request: { ...base.request, method: 'GET', body: empty },
    response: { status: 101, status_message: 'Switching Protocols', http_version: '1.1', headers: [['Upgrade', 'websocket']], body: empty, trailers: [] },
    status: 101,
    websocket: {
      deflate: false,
      messages: [
        { dir: 's2c', t_us: 120, opcode: 'text', data: Buffer.from('{"welcome":1}'), size: 13, truncated: false },
        { dir: 'c2s', t_us: 5_000, opcode: 'binary', data: Buffer.from([0, 1, 2, 255]), size: 4, truncated: false },
        { dir: 'c2s', t_us: 6_000, opcode: 'ping', data: Buffer.alloc(0), size: 0, truncated: false },
      ],
      dropped: 0,
      stopped: null,
    },
  };
}

/** Records keyed by id, as `allRecords` returns them (a Map compares without regard to order). */
function byId(records: readonly QRecord[]): Map<string, QRecord> {
  return new Map(records.map((r) => [r.id, r]));
}

test('a damaged frame inside a run of contiguous records is that record reported damaged; its neighbours are read and synced', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.db');
  const records = Array.from({ length: 30 }, (_, i) => httpRecord(i + 1));
  const writer = await openStore(t, path);
  await fill(writer, records);
  await writer.close();
  const where = extents(path);
  // They lie back to back in one segment: one run.
  for (let i = 1; i < records.length; i++) {
    const a = where.get(records[i - 1]!.id)!;
    const b = where.get(records[i]!.id)!;
    assert.equal(b.seg, a.seg);
    assert.equal(b.off, a.off + a.len);
  }
  const badBody = records[11]!;
  const badDoc = records[20]!;
  flipExtentByte(path, badBody.id, -10); // inside its response body
  flipExtentByte(path, badDoc.id, 30); // inside its document

  const logger = new MemoryLogger();
  const a = await openStore(t, path, { logger });
  const good = records.filter((r) => r !== badBody && r !== badDoc);
  const feed = storedFeed(a);
  assert.deepEqual(
    feed.map(asRecord),
    good,
    'every other record reads back whole',
  );
  assert.ok(feed.every((f) => 'stored' in f), 'HTTP records of one extent come as stored');
  // The feed read as records (live replay, NATS) reads the same runs.
  assert.deepEqual(
    a.readAfter(0, 100).map((f) => f.record),
    good,
  );
  for (const bad of [badBody, badDoc]) {
    assert.equal(logger.count('error', `record ${bad.id} is damaged`), 1, 'logged once');
    assert.throws(() => a.get(bad.id), (err: Error & { code?: string }) => err.code === 'QP_ERR_STORE_DAMAGED' && /fails its checksum/.test(err.message));
  }

  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port, { batch: { maxRecords: 8, maxBytes: 1024 * 1024 } }));
  await waitFor(() => sender.durableCursor === 30, 'the cursor to pass every record, damaged ones included');
  // By id: batches in flight at once may be stored in the order they arrive, not the sender's.
  assert.deepEqual(allRecords(b), byId(good));
});

test('a feed over many segments reads back whole, as stored and as records, and syncs', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.db');
  // Segments of 4 KiB hold one or two of these records each: every page crosses many segments.
  const a = await openStore(t, path, { segmentBytes: 4096 });
  const records = Array.from({ length: 40 }, (_, i) => httpRecord(i + 1));
  await fill(a, records);
  const segs = new Set([...extents(path).values()].map((e) => e.seg));
  assert.ok(segs.size >= 15, `the records lie in ${segs.size} segments`);
  assert.deepEqual(storedFeed(a, 7).map(asRecord), records);
  assert.deepEqual([...allRecords(a).values()], records);

  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port, { batch: { maxRecords: 6, maxBytes: 64 * 1024 } }));
  await waitFor(() => sender.status().pending.records === 0 && b.stats().count === 40, 'every record to reach the peer');
  assert.deepEqual(allRecords(b), byId(records));
});

/** HTTP records, a WebSocket exchange and a TCP session written in three appends (the last one past the others). */
async function mixedStore(t: TestContext, path: string): Promise<{ store: Awaited<ReturnType<typeof openStore>>; ids: { ws: string; tcp: string } }> {
  const store = await openStore(t, path);
  const tcpId = uuidv7();
  const ws = wsRecord(3);
  await fill(store, [httpRecord(1), tcpSegment(tcpId, 0, 6, 'open', 900), httpRecord(2), ws, httpRecord(4)]);
  await fill(store, [tcpSegment(tcpId, 6, 6, 'open', 900), httpRecord(5)]);
  await fill(store, [httpRecord(6), tcpSegment(tcpId, 12, 4, 'closed', 900), httpRecord(7)]);
  return { store, ids: { ws: ws.id, tcp: tcpId } };
}

test('a batch mixing stored HTTP records, a WebSocket exchange and a TCP session reaches a format 2 receiver whole', async (t) => {
  const dir = await tempDir(t);
  const { store: a, ids } = await mixedStore(t, join(dir, 'a.db'));
  const feed = storedFeed(a);
  const kinds = new Map(feed.map((f) => ['stored' in f ? f.stored.id : f.record.id, 'stored' in f ? 'stored' : f.record.protocol]));
  assert.equal(kinds.get(ids.ws), 'http', 'a record with WebSocket messages is read whole');
  assert.equal(kinds.get(ids.tcp), 'tcp');
  assert.equal([...kinds.values()].filter((k) => k === 'stored').length, 6, 'the six HTTP records without WebSocket messages come as stored');
  const session = a.get(ids.tcp) as TcpRecord;
  assert.equal(session.chunks.length, 16);

  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  // Small batches: the session is split into parts sent after one another.
  const sender = await startSender(t, senderOptions(a, port, { batch: { maxRecords: 3, maxBytes: 64 * 1024 } }));
  await waitFor(() => sender.status().pending.records === 0 && b.stats().count === 8, () => `every record to reach the peer (it holds ${b.stats().count} of 8)`);
  assert.deepEqual(allRecords(b), allRecords(a));
  assert.equal(sender.status().ledger.refused_by_peer, 0);
});

/** A receiver older than format 2: announces nothing and keeps the records of every QPB1 batch. */
async function formatOneReceiver(t: TestContext): Promise<{ port: number; records: Map<string, QRecord>; magics: Set<string> }> {
  const records = new Map<string, QRecord>();
  const magics = new Set<string>();
  const server = createServer();
  server.on('stream', (stream, headers: IncomingHttpHeaders) => {
    if (headers[':method'] === 'GET') {
      stream.respond({ ':status': 204 }, { endStream: true });
      return;
    }
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => {
      const raw = gunzipSync(Buffer.concat(parts));
      magics.add(raw.toString('latin1', 0, 4));
      const batch = decodeBatch(raw);
      for (const e of batch.entries) {
        const known = records.get(e.record.id);
        // A TCP session may come in parts: its chunks are appended.
        if (known?.protocol === 'tcp' && e.record.protocol === 'tcp') records.set(e.record.id, { ...e.record, chunks: [...known.chunks.slice(0, e.chunkBase ?? 0), ...e.record.chunks] });
        else records.set(e.record.id, e.record);
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ stored: batch.entries.length, skipped: 0 }));
    });
  });
  const port = await listenH2(t, server);
  return { port, records, magics };
}

test('to a receiver without format 2 the stored records go as format 1 records, equal to what the store holds', async (t) => {
  const dir = await tempDir(t);
  const { store: a } = await mixedStore(t, join(dir, 'a.db'));
  const rx = await formatOneReceiver(t);
  const sender = await startSender(t, senderOptions(a, rx.port, { compression: 'gzip', batch: { maxRecords: 4, maxBytes: 1024 * 1024 } }));
  await waitFor(() => sender.status().pending.records === 0, 'every batch acknowledged');
  assert.deepEqual([...rx.magics], ['QPB1']);
  assert.deepEqual(rx.records, allRecords(a));
});
