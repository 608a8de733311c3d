/**
 * The sync pieces that need no socket: the batch codec, compression caps, the feed reader's
 * budgets and TCP splitting, the send window's in-order cursor, and the back-off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { QRecord, TcpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { Backoff } from '../../src/sync/backoff.js';
import { BatchReader, type OutBatch, type OutEntry } from '../../src/sync/peer/batch-reader.js';
import { compress, decompress, outputChunkBytes } from '../../src/sync/compression.js';
import { SendWindow } from '../../src/sync/peer/send-window.js';
import { SyncError } from '../../src/sync/sync-error.js';
import { TcpWatermarks } from '../../src/sync/tcp-watermarks.js';
import { decodeBatch, encodeBatch } from '../../src/sync/wire-format.js';
import { httpRecord, tcpSegment } from './helpers.js';

test('a batch round-trips through the codec and every compression, binary payloads intact', async () => {
  const tcp = tcpSegment(uuidv7(), 5, 7, 'open');
  const entries = [
    { seq: 3, record: httpRecord(0) as QRecord },
    { seq: 4, record: httpRecord(7, { response: null }) as QRecord },
    { seq: 9, record: tcp as QRecord, chunkBase: 5 },
  ];
  for (const format of [1, 2] as const) {
    const raw = encodeBatch('az-a-1', entries, format);
    assert.equal(raw.toString('latin1', 0, 4), `QPB${format}`);
    for (const how of ['gzip', 'br', 'none'] as const) {
      for (const fast of [false, true]) {
        const wire = await compress(raw, how, fast);
        const back = decodeBatch(await decompress(wire, how, 1024 * 1024));
        assert.equal(back.node, 'az-a-1');
        // Format 2 hands the receiver each HTTP record's document too, to be stored as it came.
        assert.deepEqual(
          back.entries.map(({ doc: _doc, ...e }) => e),
          entries,
        );
        for (const e of back.entries) assert.equal(e.doc !== undefined, format === 2 && e.record.protocol === 'http');
      }
    }
    // The fast setting (a sender catching up) is a different, cheaper quality, read back alike.
    assert.notDeepEqual(await compress(raw, 'br', true), await compress(raw, 'br', false));
  }
});

test('format 2 sends an HTTP record\'s stored document byte for byte, and the receiver gets those bytes', () => {
  const record = httpRecord(3);
  // A document as some store wrote it: key order and spacing of its own, no payload bytes.
  const { request, response, ...rest } = record;
  const stored = Buffer.from(
    JSON.stringify(
      { ...rest, request: { ...request, body: { truncated: request.body.truncated, size: request.body.size } }, response: response && { ...response, body: { size: response.body.size, truncated: response.body.truncated } } },
      null,
      1,
    ),
  );
  const raw = encodeBatch('az-a-1', [{ seq: 1, record, doc: stored }], 2);
  assert.ok(raw.includes(stored), 'the document is in the batch as it was given');
  const back = decodeBatch(raw).entries[0]!;
  assert.deepEqual(back.doc, stored);
  assert.deepEqual(back.record, record);
});

test('a format 2 TCP entry is checked like the rest: chunk tuples, no chunks inside its document', () => {
  const tcp = tcpSegment(uuidv7(), 0, 3, 'closed');
  const good = encodeBatch('az-a-1', [{ seq: 1, record: tcp }], 2);
  assert.deepEqual(decodeBatch(good).entries[0]!.record, tcp);
  const edit = (fn: (head: { entries: Array<{ chunks: unknown[]; doc: number }>; blobs: number[] }, blobs: Buffer[]) => void): Buffer => {
    const len = good.readUInt32BE(4);
    const head = JSON.parse(good.toString('utf8', 8, 8 + len)) as Parameters<typeof fn>[0];
    const blobs: Buffer[] = [];
    let at = 8 + len;
    for (const n of head.blobs) {
      blobs.push(good.subarray(at, at + n));
      at += n;
    }
    fn(head, blobs);
    head.blobs = blobs.map((b) => b.byteLength);
    const json = Buffer.from(JSON.stringify(head));
    const prefix = Buffer.from(good.subarray(0, 8));
    prefix.writeUInt32BE(json.byteLength, 4);
    return Buffer.concat([prefix, json, ...blobs]);
  };
  const refused = (body: Buffer, says: RegExp): void => {
    assert.throws(
      () => decodeBatch(body),
      (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_MALFORMED' && says.test(e.message),
    );
  };
  refused(edit((h) => (h.entries[0]!.chunks[1] = ['sideways', 5, 2])), /entries\[0\]\.chunks\[1\]: expected \["c2s"/);
  refused(edit((h) => (h.entries[0]!.chunks[2] = ['c2s', 5])), /entries\[0\]\.chunks\[2\]/);
  refused(
    edit((h, blobs) => {
      const d = JSON.parse(blobs[h.entries[0]!.doc]!.toString()) as Record<string, unknown>;
      d.chunks = [];
      blobs[h.entries[0]!.doc] = Buffer.from(JSON.stringify(d));
    }),
    /entries\[0\]\.record: unknown field "chunks"/,
  );
  refused(
    edit((h, blobs) => {
      const d = JSON.parse(blobs[h.entries[0]!.doc]!.toString()) as Record<string, unknown>;
      d.close_reason = null;
      blobs[h.entries[0]!.doc] = Buffer.from(JSON.stringify(d));
    }),
    /a closed TCP session needs a close_reason/,
  );
});

test('the record check refuses what the model does not allow, in either format, naming the field', () => {
  const record = httpRecord(1);
  const good = encodeBatch('az-a-1', [{ seq: 1, record }], 1);
  const len = good.readUInt32BE(4);
  /** The format 1 batch with its one record edited (as JSON text, so 1e999 and -0 can be written). */
  type Editable = {
    id: string;
    protocol: string;
    started_at: number;
    redacted: unknown[];
    client: { port: number };
    request: { headers: unknown[][]; body: { size: number; data: Record<string, unknown> } };
    response: { headers: unknown[][]; body: { size: number } };
  };
  const edited = (edit: (r: Editable) => void, raw?: (json: string) => string): Buffer => {
    const head = JSON.parse(good.toString('utf8', 8, 8 + len)) as { entries: Array<{ record: Editable }> };
    edit(head.entries[0]!.record);
    let text = JSON.stringify(head);
    if (raw) text = raw(text);
    const json = Buffer.from(text);
    const prefix = Buffer.from(good.subarray(0, 8));
    prefix.writeUInt32BE(json.byteLength, 4);
    return Buffer.concat([prefix, json, good.subarray(8 + len)]);
  };
  const cases: Array<[string, Buffer, RegExp]> = [
    ['an upper-case id', edited((r) => (r.id = r.id.toUpperCase())), /record\.id: expected a lower-case UUID/],
    ['a port out of range', edited((r) => (r.client.port = 70000)), /record\.client\.port/],
    ['a fractional size', edited((r) => (r.response.body.size = 1.5)), /record\.response\.body\.size: expected an integer/],
    ['a negative size', edited((r) => (r.request.body.size = -1)), /record\.request\.body\.size/],
    ['an infinite time', edited((r) => (r.started_at = 12345), (t) => t.replace('"started_at":12345', '"started_at":1e999')), /record\.started_at: expected a finite number/],
    ['a header line of three', edited((r) => (r.request.headers[0] = ['a', 'b', 'c'])), /record\.request\.headers\[0\]/],
    ['a header value that is a number', edited((r) => (r.response.headers[1]![1] = 5)), /record\.response\.headers\[1\]/],
    ['an unknown protocol', edited((r) => (r.protocol = 'udp')), /record\.protocol/],
    ['a __proto__ key', edited(() => {}, (t) => t.replace('"v":1,', '"__proto__":{"x":1},"v":1,')), /unknown field "__proto__"/],
    ['a redacted list of numbers', edited((r) => (r.redacted = [1])), /record\.redacted\[0\]/],
    ['a blob reference with extras', edited((r) => (r.request.body.data.extra = 1)), /record\.request\.body\.data: unknown field "extra"/],
  ];
  for (const [name, body, says] of cases) {
    assert.throws(
      () => decodeBatch(body),
      (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_MALFORMED' && says.test(e.message),
      name,
    );
  }
});

test('decompression stops at the cap, and a corrupt stream is malformed, not a crash', async () => {
  const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
  await assert.rejects(decompress(bomb, 'gzip', 1024 * 1024), (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_TOO_LARGE');
  const br = await compress(Buffer.alloc(4 * 1024 * 1024), 'br');
  await assert.rejects(decompress(br, 'br', 1024 * 1024), (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_TOO_LARGE');
  await assert.rejects(decompress(Buffer.from('not gzip'), 'gzip', 1024), (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_MALFORMED');
});

test('decompression gives back every byte whether the output fits one chunk or spans several, up to exactly the cap', async () => {
  // Varied bytes (not one repeated value) so that a chunk boundary in the wrong place would show.
  const raw = Buffer.alloc(3 * 1024 * 1024 + 777);
  for (let i = 0; i < raw.byteLength; i++) raw[i] = (i * 31 + (i >> 10)) & 0xff;
  for (const how of ['gzip', 'br'] as const) {
    const wire = await compress(raw, how);
    // Highly compressible: the output spans several chunks of the largest size.
    assert.ok(raw.byteLength > outputChunkBytes(wire.byteLength, raw.byteLength) * 2, 'several output chunks');
    assert.ok((await decompress(wire, how, raw.byteLength)).equals(raw), `${how}: every byte, the cap equal to the size`);
    await assert.rejects(decompress(wire, how, raw.byteLength - 1), (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_TOO_LARGE');
    // The size the sender declares is a hint: exact, too small or too large, the bytes are the same.
    for (const hint of [raw.byteLength, 100, raw.byteLength * 4]) {
      assert.ok((await decompress(wire, how, 64 * 1024 * 1024, hint)).equals(raw), `${how}: declared ${hint} bytes`);
    }
    const exact = await decompress(wire, how, 64 * 1024 * 1024, raw.byteLength);
    assert.equal(exact.buffer.byteLength, raw.byteLength + 1, `${how}: with the size declared, one Buffer and no copy at the end`);
    await assert.rejects(decompress(wire, how, raw.byteLength - 1, raw.byteLength * 4), (e: unknown) => e instanceof SyncError && e.code === 'QP_ERR_SYNC_BATCH_TOO_LARGE');
    const small = raw.subarray(0, 1500);
    assert.ok((await decompress(await compress(small, how), how, 1024 * 1024)).equals(small), `${how}: a small body`);
  }
  assert.equal(outputChunkBytes(100, 64 * 1024 * 1024), 16 * 1024, 'a small message gets a small chunk');
  assert.equal(outputChunkBytes(30_000, 64 * 1024 * 1024), 480_000);
  assert.equal(outputChunkBytes(10_000_000, 64 * 1024 * 1024), 1024 * 1024);
  assert.equal(outputChunkBytes(100, 64 * 1024 * 1024, 5_000_000), 5_000_001, 'a declared size is used as it is');
  assert.equal(outputChunkBytes(100, 1024 * 1024, 5_000_000), 1024 * 1024 + 1, 'but never past the cap');
});

/** A feed in memory, as the store's readStoredAfter returns it for records it does not keep as stored extents. */
function feedOf(records: QRecord[]): { readStoredAfter(seq: number, limit: number): Array<{ seq: number; record: QRecord }> } {
  const rows = records.map((record, i) => ({ seq: i + 1, record }));
  return { readStoredAfter: (seq, limit) => rows.filter((r) => r.seq > seq).slice(0, limit) };
}

/** The entries that carry a record (a feed of records makes only those). */
function withRecord(entries: OutEntry[]): Array<Extract<OutEntry, { record: QRecord }>> {
  return entries.filter((e): e is Extract<OutEntry, { record: QRecord }> => 'record' in e);
}

function drain(reader: BatchReader): OutBatch[] {
  const out: OutBatch[] = [];
  for (let b = reader.next(); b; b = reader.next()) out.push(b);
  return out;
}

test('the reader respects the record and byte budgets and never skips or repeats a feed entry', () => {
  const records = Array.from({ length: 230 }, (_, i) => httpRecord(i) as QRecord);
  const reader = new BatchReader(feedOf(records), new TcpWatermarks(), { maxRecords: 50, maxBytes: 64 * 1024 });
  const batches = drain(reader);
  assert.deepEqual(
    batches.flatMap((b) => b.entries.map((e) => e.seq)),
    records.map((_, i) => i + 1),
  );
  for (const b of batches) {
    assert.ok(b.entries.length <= 50);
    assert.ok(b.estBytes <= 64 * 1024 || b.entries.length === 1);
  }
  // Every batch but the last was closed with more of the feed behind it (the sender has a backlog).
  assert.deepEqual(
    batches.map((b) => b.full),
    batches.map((_, i) => i < batches.length - 1),
  );
  reader.reset(200);
  assert.equal(reader.next()?.entries[0]?.seq, 201, 'after a reset it reads again from the cursor');
});

test('a TCP session larger than a batch is split into ordered parts; only the last is complete and carries the close', () => {
  const id = uuidv7();
  const big = tcpSegment(id, 0, 40, 'closed', 8 * 1024);
  const reader = new BatchReader(feedOf([httpRecord(1), big, httpRecord(2)]), new TcpWatermarks(), { maxRecords: 100, maxBytes: 100 * 1024 });
  const parts = withRecord(drain(reader).flatMap((b) => b.entries)).filter((e) => e.record.id === id);
  assert.ok(parts.length >= 3);
  let next = 0;
  for (const [i, p] of parts.entries()) {
    const r = p.record as TcpRecord;
    assert.equal(p.chunkBase, next, 'parts are contiguous');
    next += r.chunks.length;
    const last = i === parts.length - 1;
    assert.equal(p.complete, last);
    assert.equal(r.state, last ? 'closed' : 'open');
    assert.equal(p.continuation, i > 0, 'every part after the first must wait for the one before');
  }
  assert.equal(next, 40);
});

test('an acknowledged watermark makes the next read of a session send only the new chunks', () => {
  const id = uuidv7();
  const marks = new TcpWatermarks();
  marks.ack(id, 6, false);
  const reader = new BatchReader(feedOf([tcpSegment(id, 0, 10, 'open')]), marks, { maxRecords: 10, maxBytes: 1024 * 1024 });
  const [e] = withRecord(reader.next()!.entries);
  assert.ok(e);
  assert.equal(e.chunkBase, 6);
  assert.equal((e.record as TcpRecord).chunks.length, 4);
  marks.ack(id, 10, true);
  assert.equal(marks.get(id), 0, 'a closed session is forgotten');
});

test('the window moves the cursor over the acknowledged prefix only, and halving isolates a refused entry', () => {
  const batch = (seqs: number[]): OutBatch => ({
    entries: seqs.map((seq) => ({ seq, record: httpRecord(seq), complete: true, continuation: false })),
    estBytes: 1000,
  });
  const w = new SendWindow();
  const s1 = w.add(batch([1, 2]));
  const s2 = w.add(batch([3, 4, 5, 6]));
  const s3 = w.add(batch([7]));
  assert.equal(w.ack(s3).cursor, null, 'a later batch acknowledged first does not move the cursor');
  assert.equal(w.ack(s1).cursor, 2);
  w.split(s2);
  const h1 = w.nextToSend()!;
  assert.deepEqual(h1.batch.entries.map((e) => e.seq), [3, 4]);
  h1.state = 'sending';
  const h2 = w.nextToSend()!;
  assert.deepEqual(h2.batch.entries.map((e) => e.seq), [5, 6]);
  assert.equal(w.ack(h2).cursor, null);
  assert.equal(w.refuse(h1).cursor, 7, 'the refused half counts as settled, then the acknowledged ones');
  assert.equal(w.size, 0);
});

test('a continuation part waits until everything before it is settled', () => {
  const w = new SendWindow();
  const rec = httpRecord(1) as QRecord;
  const first = w.add({ entries: [{ seq: 1, record: rec, complete: false, continuation: false }], estBytes: 1 });
  w.add({ entries: [{ seq: 1, record: rec, complete: true, continuation: true }], estBytes: 1 });
  assert.equal(w.nextToSend(), first);
  first.state = 'sending';
  assert.equal(w.nextToSend(), null, 'held back while the first part is in flight');
  assert.equal(w.ack(first).cursor, null, 'an incomplete part does not move the cursor');
  assert.ok(w.nextToSend()?.batch.entries[0]?.continuation);
});

test('back-off doubles with jitter between half and all of the ceiling, capped, and resets', () => {
  let r = 0;
  const b = new Backoff(100, 1000, () => r);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [50, 100, 200, 400, 500]);
  r = 1;
  assert.equal(b.next(), 1000);
  assert.equal(b.long(), 1000);
  b.reset();
  r = 0.5;
  assert.equal(b.next(), 75);
});
