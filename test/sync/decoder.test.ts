/**
 * The receiver's batch decoder thread (src/sync/batch-decoder.ts): what it hands back is what
 * decoding on the main thread gives, its refusals are the same, and a thread that dies fails only
 * the batch it held.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { httpRecordHead, type HttpRecord } from '../../src/recording/model.js';
import { BatchDecoder } from '../../src/sync/batch-decoder.js';
import { decompress, type Compression } from '../../src/sync/compression.js';
import { SyncError } from '../../src/sync/sync-error.js';
import { decodeBatch, encodeBatch, type SyncEntry } from '../../src/sync/wire-format.js';
import { allRecords, httpRecord, openStore, postBatch, startReceiver, tcpSegment, tempDir } from './helpers.js';
import { uuidv7 } from '../../src/core/uuidv7.js';

const MAX = 16 * 1024 * 1024;
const CRASHES = new URL('./fixtures/decoder-crashes.ts', import.meta.url);

function decoder(t: TestContext, entry?: URL): BatchDecoder {
  const d = new BatchDecoder(entry);
  t.after(() => d.close());
  return d;
}

function records(n: number): HttpRecord[] {
  // Entry 3 has no response; entry 0 a request body; entry 7 a binary response (httpRecord's pattern).
  return Array.from({ length: n }, (_, i) => httpRecord(i, i === 3 ? { response: null, status: 502 } : {}));
}

/** What the decoder's promise rejects with, as code and message. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SyncError, `expected a SyncError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('the decode was expected to fail');
}

test('HTTP records come back as their heads, documents and bodies: the bytes and figures decoding on the main thread gives', async (t) => {
  const d = decoder(t);
  const rs = records(12);
  const raw = encodeBatch('az-a-1', rs.map((record, i) => ({ seq: 100 + i, record })), 2);
  const onMain = decodeBatch(raw);
  const batch = await d.decode(brotliCompressSync(raw), 'br', MAX, raw.byteLength);
  assert.equal(batch.node, 'az-a-1');
  assert.equal(batch.rawBytes, raw.byteLength);
  assert.equal(batch.entries.length, rs.length);
  batch.entries.forEach((e, i) => {
    assert.ok('received' in e, `entry ${i} came back as a record`);
    const main = onMain.entries[i]!;
    const record = main.record as HttpRecord;
    assert.equal(e.seq, 100 + i);
    assert.deepEqual(e.received.head, httpRecordHead(record));
    assert.ok(e.received.doc.equals(main.doc!), `entry ${i}: the document differs`);
    assert.ok(e.received.request.equals(rs[i]!.request.body.data), `entry ${i}: the request body differs`);
    assert.ok(e.received.response.equals(rs[i]!.response?.body.data ?? Buffer.alloc(0)), `entry ${i}: the response body differs`);
  });
});

test('batches with TCP sessions, WebSocket messages or format 1 records come back decoded as records', async (t) => {
  const d = decoder(t);
  const ws = httpRecord(1, {
    status: 101,
    websocket: { deflate: false, messages: [{ dir: 'c2s', t_us: 5, opcode: 'text', data: Buffer.from('hi'), size: 2, truncated: false }], dropped: 0, stopped: null },
  });
  const cases: Array<{ name: string; entries: SyncEntry[]; format: 1 | 2 }> = [
    { name: 'TCP', entries: [{ seq: 1, record: httpRecord(0) }, { seq: 2, record: tcpSegment(uuidv7(), 0, 3, 'closed') }], format: 2 },
    { name: 'WebSocket', entries: [{ seq: 1, record: ws }], format: 2 },
    { name: 'format 1', entries: [{ seq: 1, record: httpRecord(2) }], format: 1 },
  ];
  for (const c of cases) {
    const raw = encodeBatch('az-a-1', c.entries, c.format);
    const batch = await d.decode(raw, 'none', MAX);
    assert.deepEqual(
      batch.entries.map((e) => ('record' in e ? e.record.id : 'received')),
      c.entries.map((e) => e.record.id),
      c.name,
    );
    assert.deepEqual(batch.entries, decodeBatch(raw).entries, c.name);
  }
});

test('a bad batch is refused with the code and message the main thread would give', async (t) => {
  const d = decoder(t);
  const good = encodeBatch('az-a-1', [{ seq: 1, record: httpRecord(0) }], 2);
  const badDoc = Buffer.from(good.toString('latin1').replace('"method":"POST"', '"method":404000'), 'latin1');
  const cases: Array<{ name: string; body: Buffer; how: Compression; max: number }> = [
    { name: 'garbage', body: Buffer.from('not a batch'), how: 'none', max: MAX },
    { name: 'a record that is not the model', body: badDoc, how: 'none', max: MAX },
    { name: 'a newer format', body: Buffer.concat([Buffer.from('QPB7'), good.subarray(4)]), how: 'none', max: MAX },
    { name: 'larger than the cap', body: gzipSync(good), how: 'gzip', max: 64 },
    { name: 'a truncated stream', body: brotliCompressSync(good).subarray(0, 10), how: 'br', max: MAX },
  ];
  for (const c of cases) {
    const onMain = await refusal(decompress(c.body, c.how, c.max).then(decodeBatch));
    assert.deepEqual(await refusal(d.decode(c.body, c.how, c.max)), onMain, c.name);
  }
});

test('a body from Node\'s shared Buffer pool is copied to the thread, not taken from the Buffers around it', async (t) => {
  const d = decoder(t);
  const raw = encodeBatch('az-a-1', [{ seq: 1, record: httpRecord(1, { request: { ...httpRecord(1).request, headers: [] } }) }], 2);
  assert.ok(raw.byteLength < 4096, 'the batch must be small enough for the pool');
  const neighbour = Buffer.from('a neighbour in the pool');
  const body = Buffer.from(raw);
  assert.equal(body.buffer, neighbour.buffer, 'both should be slices of one pool');
  const batch = await d.decode(body, 'none', MAX);
  assert.equal(batch.entries.length, 1);
  assert.equal(neighbour.toString(), 'a neighbour in the pool');
  assert.ok(body.equals(raw), 'the body the caller kept is intact');
});

test('a decoder thread that dies fails the batch it held with QP_ERR_SYNC_STORE; the next batch gets a new thread', async (t) => {
  const d = decoder(t, CRASHES);
  const raw = encodeBatch('az-a-1', [{ seq: 1, record: httpRecord(0) }], 2);
  assert.equal((await d.decode(raw, 'none', MAX)).entries.length, 1);
  const died = await refusal(d.decode(Buffer.concat([Buffer.from('CRASH'), Buffer.alloc(8192)]), 'none', MAX));
  assert.equal(died.code, 'QP_ERR_SYNC_STORE');
  assert.match(died.message, /decoder thread stopped \(it exited with code 3\).*send it again/);
  assert.equal((await d.decode(raw, 'none', MAX)).entries.length, 1);
  await d.close();
  assert.equal((await refusal(d.decode(raw, 'none', MAX))).code, 'QP_ERR_SYNC_CLOSING');
});

test('peer receiver: a batch whose decoder thread died is answered 503 and stores nothing; the sender\'s resend is stored', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store, decoderEntry: CRASHES });
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.after(() => session.close());
  const rs = records(2);
  const batch = encodeBatch('az-a-1', rs.map((record, i) => ({ seq: i + 1, record })), 2);
  const refused = await postBatch(session, Buffer.concat([Buffer.from('CRASH'), batch]), 2);
  assert.equal(refused.status, 503);
  assert.equal(refused.code, 'QP_ERR_SYNC_STORE');
  assert.match(refused.error ?? '', /decoder thread stopped .*accepted on retry/);
  assert.equal(allRecords(store).size, 0);
  const stored = await postBatch(session, batch, 2);
  assert.equal(stored.status, 200);
  const back = allRecords(store);
  assert.deepEqual([...back.keys()].sort(), rs.map((r) => r.id).sort());
});
