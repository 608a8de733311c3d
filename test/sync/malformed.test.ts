/**
 * What the receiver does with batches that are not what a QProxy sender sends: refused with a
 * clear 4xx and nothing of them stored — and what the sender does when the receiver refuses one
 * record of its own store: it isolates it by halving, skips only that one and counts it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type OutgoingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeBatch } from '../../src/sync/wire-format.js';
import { allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, syncMetrics, tempDir, waitFor } from './helpers.js';

interface Reply {
  status: number;
  body: { error?: string; code?: string; stored?: number; skipped?: number };
}

/** One POST over a fresh h2c connection. */
async function post(port: number, headers: OutgoingHttpHeaders, body: Buffer): Promise<Reply> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    return await new Promise<Reply>((resolve, reject) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/sync/v1/batches',
        'content-type': 'application/x-qproxy-batch',
        'x-qproxy-node': 'az-x',
        'x-qproxy-records': '3',
        ...headers,
      });
      let status = 0;
      const parts: Buffer[] = [];
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve({ status, body: JSON.parse(Buffer.concat(parts).toString() || '{}') as Reply['body'] }));
      req.on('error', reject);
      req.end(body);
    });
  } finally {
    session.close();
  }
}

function validBatch(n = 3, format: 1 | 2 = 1): Buffer {
  return encodeBatch(
    'az-x',
    Array.from({ length: n }, (_, i) => ({ seq: i + 1, record: httpRecord(i, { node_id: 'az-x' }) })),
    format,
  );
}

type Head2 = { blobs: number[]; entries: Array<Record<string, unknown> & { doc: number }> } & Record<string, unknown>;

/**
 * Re-encodes a format 2 batch after editing its head and the documents of its entries (`doc`
 * gets each entry's document as text and returns the text to send).
 */
function v2With(edit: (head: Head2) => void, doc: (text: string, entry: number) => string = (t) => t): Buffer {
  const buf = validBatch(3, 2);
  const len = buf.readUInt32BE(4);
  const head = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Head2;
  const blobs: Buffer[] = [];
  let at = 8 + len;
  for (const n of head.blobs) {
    blobs.push(buf.subarray(at, at + n));
    at += n;
  }
  head.entries.forEach((e, i) => {
    blobs[e.doc] = Buffer.from(doc(blobs[e.doc]!.toString('utf8'), i));
  });
  head.blobs = blobs.map((b) => b.byteLength);
  edit(head);
  const json = Buffer.from(JSON.stringify(head));
  const prefix = Buffer.alloc(8);
  buf.copy(prefix, 0, 0, 4);
  prefix.writeUInt32BE(json.byteLength, 4);
  return Buffer.concat([prefix, json, ...blobs]);
}

/** Edits the JSON document of entry `which` of a format 2 batch. */
function v2Doc(which: number, edit: (doc: Record<string, unknown> & { request: { body: Record<string, unknown> } }) => void): Buffer {
  return v2With(
    () => {},
    (text, i) => {
      if (i !== which) return text;
      const d = JSON.parse(text) as Parameters<typeof edit>[0];
      edit(d);
      return JSON.stringify(d);
    },
  );
}

/** Re-encodes a batch after editing its JSON head. */
function withHead(edit: (head: { entries: Array<{ record: Record<string, unknown> }> } & Record<string, unknown>) => void): Buffer {
  const buf = validBatch();
  const len = buf.readUInt32BE(4);
  const head = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Parameters<typeof edit>[0];
  edit(head);
  const json = Buffer.from(JSON.stringify(head));
  const prefix = Buffer.alloc(8);
  buf.copy(prefix, 0, 0, 4);
  prefix.writeUInt32BE(json.byteLength, 4);
  return Buffer.concat([prefix, json, buf.subarray(8 + len)]);
}

test('malformed, truncated, mis-typed, oversized and foreign batches get a clear 4xx and store nothing', async (t) => {
  const dir = await tempDir(t);
  const b = await openStore(t, join(dir, 'b.db'));
  const rx = syncMetrics();
  const { receiver, port } = await startReceiver(t, { store: b, maxBatchBytes: 1024 * 1024, observer: rx.metrics });

  const cases: Array<{ name: string; headers?: OutgoingHttpHeaders; body: Buffer; status: number; code: string; says: RegExp }> = [
    { name: 'garbage', body: Buffer.from('this is not a batch at all'), status: 400, code: 'QP_ERR_SYNC_BATCH_MALFORMED', says: /QPB1/ },
    {
      name: 'truncated gzip',
      headers: { 'content-encoding': 'gzip' },
      body: gzipSync(validBatch()).subarray(0, 60),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /cannot be decompressed/,
    },
    {
      name: 'wrong schema (status is text)',
      body: withHead((h) => (h.entries[1]!.record.status = 'two hundred')),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[1\]\.record/,
    },
    {
      name: 'one record without its id among good ones',
      body: withHead((h) => delete h.entries[2]!.record.id),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[2\]\.record\.id/,
    },
    {
      name: 'unknown field',
      body: withHead((h) => (h.entries[0]!.record.extra = true)),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /extra/,
    },
    {
      name: 'blob table that does not match the blob area',
      body: withHead((h) => ((h.blobs as number[])[0]! += 1)),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /blob area/,
    },
    {
      name: 'newer format in a QPB1 head',
      body: withHead((h) => (h.format = 3)),
      status: 400,
      code: 'QP_ERR_SYNC_FORMAT_VERSION',
      says: /upgrade QProxy/,
    },
    {
      name: 'newer batch magic',
      body: Buffer.concat([Buffer.from('QPB3'), validBatch().subarray(4)]),
      status: 400,
      code: 'QP_ERR_SYNC_FORMAT_VERSION',
      says: /format 3 is newer.*upgrade QProxy/,
    },
    {
      name: 'format 2: a newer record format in a document',
      body: v2Doc(1, (d) => (d.v = 2)),
      status: 400,
      code: 'QP_ERR_SYNC_FORMAT_VERSION',
      says: /record format 2 is newer/,
    },
    {
      name: 'format 2: a document that is not JSON',
      body: v2With(
        () => {},
        (t, i) => (i === 2 ? t.slice(0, -3) : t),
      ),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[2\]\.doc: the record's document is not valid JSON/,
    },
    {
      name: 'format 2: a document of the wrong shape',
      body: v2Doc(1, (d) => (d.status = 'two hundred')),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[1\]\.record\.status/,
    },
    {
      name: 'format 2: payload bytes inside a document',
      body: v2Doc(0, (d) => (d.request.body.data = 'aGVsbG8=')),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[0\]\.record\.request\.body: unknown field "data"/,
    },
    {
      name: 'format 2: a document that is not an object',
      body: v2With(
        () => {},
        (t, i) => (i === 0 ? '[1,2,3]' : t),
      ),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[0\]\.record: expected an object/,
    },
    {
      name: 'format 2: an entry field it does not have',
      body: v2With((h) => (h.entries[2]!.chunks = [])),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[2\]: unknown field "chunks"/,
    },
    {
      name: 'format 2: one blob used twice',
      body: v2With((h) => (h.entries[1]!.req = h.entries[0]!.req)),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /referenced twice/,
    },
    {
      name: 'format 2: WebSocket blobs for a record without messages',
      body: v2With((h) => (h.entries[0]!.ws = [h.entries[0]!.req])),
      status: 400,
      code: 'QP_ERR_SYNC_BATCH_MALFORMED',
      says: /entries\[0\]\.ws/,
    },
    { name: 'too big on the wire', body: Buffer.alloc(2 * 1024 * 1024, 1), status: 413, code: 'QP_ERR_SYNC_BATCH_TOO_LARGE', says: /max_batch_bytes/ },
    {
      name: 'decompression bomb',
      headers: { 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.alloc(8 * 1024 * 1024)),
      status: 413,
      code: 'QP_ERR_SYNC_BATCH_TOO_LARGE',
      says: /decompresses/,
    },
    { name: 'unknown encoding', headers: { 'content-encoding': 'zstd' }, body: validBatch(), status: 415, code: 'QP_ERR_SYNC_UNSUPPORTED_MEDIA', says: /zstd/ },
    { name: 'wrong content type', headers: { 'content-type': 'application/json' }, body: validBatch(), status: 415, code: 'QP_ERR_SYNC_UNSUPPORTED_MEDIA', says: /content-type/ },
    { name: 'wrong path', headers: { ':path': '/upload' }, body: validBatch(), status: 404, code: 'QP_ERR_SYNC_NOT_FOUND', says: /sync\/v1\/batches/ },
  ];
  for (const c of cases) {
    const r = await post(port, c.headers ?? {}, c.body);
    assert.equal(r.status, c.status, `${c.name}: status`);
    assert.equal(r.body.code, c.code, `${c.name}: code`);
    assert.match(r.body.error ?? '', c.says, `${c.name}: message "${r.body.error}"`);
  }
  assert.equal(b.stats().count, 0, 'nothing of any refused batch was stored');

  const ledger = receiver.status().ledger['az-x'];
  assert.ok(ledger, 'refusals of authenticated batches are in the ledger, by the sending node');
  const refusedFor = (code: string): number => 3 * cases.filter((c) => c.code === code).length;
  assert.equal(ledger.rejected.malformed, refusedFor('QP_ERR_SYNC_BATCH_MALFORMED'));
  assert.equal(ledger.rejected.too_large, refusedFor('QP_ERR_SYNC_BATCH_TOO_LARGE'));
  assert.equal(ledger.rejected.format_version, refusedFor('QP_ERR_SYNC_FORMAT_VERSION'));
  assert.equal(ledger.stored, 0);

  // The same receiver still takes a good batch afterwards, in either format.
  const ok = await post(port, {}, validBatch());
  assert.equal(ok.status, 200);
  assert.equal(ok.body.stored, 3);
  assert.equal(b.stats().count, 3);
  const fresh = Array.from({ length: 3 }, (_, i) => ({ seq: 10 + i, record: httpRecord(i, { node_id: 'az-x' }) }));
  const v2 = await post(port, {}, encodeBatch('az-x', fresh, 2));
  assert.equal(v2.status, 200);
  assert.equal(v2.body.stored, 3);
  for (const e of fresh) assert.deepEqual(b.get(e.record.id), e.record, 'stored from its document as sent, read back whole');
  const v1 = await post(port, {}, encodeBatch('az-x', fresh, 1));
  assert.equal(v1.body.skipped, 3, 'the same records in format 1 are recognised as already stored');
  // x-qproxy-raw-bytes only sizes the Buffer a body is decompressed into: wrong or garbage, the batch is stored the same.
  for (const [i, hint] of ['1', 'abc', '-5', '999999999999', '1e9'].entries()) {
    const batch = Array.from({ length: 3 }, (_, j) => ({ seq: 20 + i * 3 + j, record: httpRecord(100 + i * 3 + j, { node_id: 'az-x' }) }));
    const r = await post(port, { 'content-encoding': 'gzip', 'x-qproxy-raw-bytes': hint }, gzipSync(encodeBatch('az-x', batch, 2)));
    assert.equal(r.status, 200, `declared ${hint}`);
    assert.equal(r.body.stored, 3, `declared ${hint}`);
  }
  assert.ok((rx.metrics.failuresByReason().malformed ?? 0) >= 6);
});

test('a record the receiver refuses is isolated by halving the batch: only it is skipped, and counted', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const records = Array.from({ length: 64 }, (_, i) => httpRecord(i));
  // The store takes any id string; the receiver wants a UUID. One poison record in the middle.
  records[37] = httpRecord(37, { id: 'not-a-uuid' });
  await fill(a, records);
  const { receiver, port } = await startReceiver(t, { store: b });
  const tx = syncMetrics();
  const sender = await startSender(t, senderOptions(a, port, { observer: tx.metrics, batch: { maxRecords: 64, maxBytes: 4 * 1024 * 1024 } }));
  await waitFor(() => sender.status().pending.records === 0, 'every batch settled');
  const got = allRecords(b);
  assert.equal(got.size, 63);
  assert.equal(got.has('not-a-uuid'), false);
  for (const r of records) if (r.id !== 'not-a-uuid') assert.deepEqual(got.get(r.id), a.get(r.id));
  assert.equal(sender.status().ledger.refused_by_peer, 1);
  assert.equal(sender.status().cursor, a.stats().lastSeq, 'the cursor passed the refused record');
  assert.ok((receiver.status().ledger['az-a-1']?.rejected.malformed ?? 0) >= 1);
  assert.match(await tx.registry.metrics(), /qproxy_sync_records_total\{role="sender",outcome="refused"\} 1/);
});
