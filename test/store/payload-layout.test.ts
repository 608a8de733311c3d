import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { httpRecordHead, type HttpRecord } from '../../src/recording/model.js';
import { httpDoc } from '../../src/store/record-codec.js';
import { CountingObserver, MemoryLogger, binary, makeRecord, openStore, segmentFrames } from './helpers.js';

const CHUNK = 256 * 1024;

function withBodies(r: HttpRecord, req: number, res: number): HttpRecord {
  r.request.body = { data: binary(req), size: req, truncated: false };
  if (r.response) r.response.body = { data: binary(res), size: res + 7, truncated: true };
  return r;
}

interface RowLayout {
  id: string;
  doc: string;
  inline: number;
  seg: number;
  off: number;
  len: number;
  size_bytes: number;
}

function rows(path: string): RowLayout[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT id, doc, (req_body IS NOT NULL) + (res_body IS NOT NULL) AS inline, seg, off, len, size_bytes FROM records ORDER BY seq`,
      )
      .all() as RowLayout[];
  } finally {
    db.close();
  }
}

test('payloads go to segment frames (an empty body has none); SQLite keeps the index row only', async (t) => {
  const { store, path } = await openStore(t);
  const small = withBodies(makeRecord(), 0, 1024);
  const exact = withBodies(makeRecord(), CHUNK, 1);
  const large = withBodies(makeRecord(), 3 * CHUNK + 10, 300);
  const noResponse = makeRecord({ response: null, status: 502, error: { code: 'ECONNREFUSED', message: 'refused' } });
  const all = [small, exact, large, noResponse];
  for (const r of all) assert.equal(store.offer(r), true);
  await store.flush();

  const layout = rows(path);
  assert.deepEqual(layout.map((r) => [r.id, r.doc, r.inline]), all.map((r) => [r.id, '', 0]));
  const frames = segmentFrames(path);
  assert.deepEqual(
    frames.map((f) => [f.kind, f.length]),
    [
      ['doc', Buffer.byteLength(httpDoc(small))],
      ['responseBody', 1024],
      ['doc', Buffer.byteLength(httpDoc(exact))],
      ['requestBody', CHUNK],
      ['responseBody', 1],
      ['doc', Buffer.byteLength(httpDoc(large))],
      ['requestBody', 3 * CHUNK + 10],
      ['responseBody', 300],
      ['doc', Buffer.byteLength(httpDoc(noResponse))],
      ['requestBody', 5],
    ],
  );
  // Each row references its extent: its frames back to back; the extents follow each other.
  const docs = frames.filter((f) => f.kind === 'doc');
  layout.forEach((r, i) => assert.equal(r.off, docs[i]!.off));
  for (let i = 1; i < layout.length; i++) assert.equal(layout[i]!.off, layout[i - 1]!.off + layout[i - 1]!.len);
  // size_bytes is the body bytes plus the document.
  const bodyBytes = [1024, CHUNK + 1, 3 * CHUNK + 10 + 300, 5];
  layout.forEach((r, i) => assert.equal(r.size_bytes, bodyBytes[i]! + Buffer.byteLength(httpDoc(all[i]!))));

  for (const r of all) assert.deepEqual(store.get(r.id), r);
  const fed = store.readAfter(0, 10);
  assert.deepEqual(
    fed.map((f) => f.record),
    all,
  );
  assert.deepEqual(
    fed.map((f) => f.seq),
    [1, 2, 3, 4],
  );
  const back = store.get(small.id) as HttpRecord | null;
  assert.ok(Buffer.isBuffer(back?.request.body.data), 'an empty body reads back as a Buffer');
});

test('records fed to another store through ingest are framed the same way and keep the same sizes', async (t) => {
  const a = await openStore(t);
  const b = await openStore(t);
  const records = [withBodies(makeRecord(), 10, 2000), withBodies(makeRecord(), 3 * CHUNK, 0)];
  for (const r of records) a.store.offer(r);
  await a.store.flush();

  const result = await b.store.ingest(a.store.readAfter(0, 10).map((f) => f.record));
  assert.equal(result.stored, 2);
  for (const r of records) assert.deepEqual(b.store.get(r.id), r);
  assert.deepEqual(b.store.stats().bytes, a.store.stats().bytes);
  const strip = (l: RowLayout[]): unknown[] => l.map(({ id, off, len, size_bytes }) => [id, off, len, size_bytes]);
  assert.deepEqual(strip(rows(b.path)), strip(rows(a.path)));
  assert.deepEqual(
    segmentFrames(b.path).map((f) => f.payload),
    segmentFrames(a.path).map((f) => f.payload),
  );
});

test('HTTP records ingested as received (head, stored document, bodies) are stored as the records themselves are: same frames, same index rows', async (t) => {
  const a = await openStore(t);
  const viaRecords = await openStore(t);
  const viaReceived = await openStore(t);
  const redacted = withBodies(makeRecord({ redacted: ['request.headers.authorization'], error: { code: 'QP_ERR_UPSTREAM_RESET', message: 'reset' } }), 3, 2 * CHUNK);
  const noResponse = withBodies(makeRecord({ response: null, status: 502, client: { address: '::1', port: 4242 } }), 0, 0);
  const records = [withBodies(makeRecord(), 10, 2000), redacted, noResponse];
  for (const r of records) a.store.offer(r);
  await a.store.flush();

  const stored = a.store.readStoredAfter(0, 10);
  const received = stored.map((item, i) => {
    assert.ok('stored' in item, `record ${i} was read as a record, not as stored`);
    return { head: httpRecordHead(records[i]!), doc: item.stored.doc, request: item.stored.request, response: item.stored.response };
  });
  assert.equal((await viaReceived.store.ingest(received)).stored, 3);
  assert.equal((await viaRecords.store.ingest(records)).stored, 3);
  for (const r of records) assert.deepEqual(viaReceived.store.get(r.id), r);
  const index = (path: string): unknown[] => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare('SELECT * FROM records ORDER BY seq').all().map((row) => ({ ...(row as object), seq: undefined }));
    } finally {
      db.close();
    }
  };
  assert.deepEqual(index(viaReceived.path), index(viaRecords.path));
  assert.deepEqual(
    segmentFrames(viaReceived.path).map((f) => f.payload),
    segmentFrames(viaRecords.path).map((f) => f.payload),
  );
});

test('totals stay exact across batches, duplicates, deletes and ingest', async (t) => {
  const { store, path } = await openStore(t);
  const records = Array.from({ length: 700 }, (_, i) => withBodies(makeRecord(), i % 3, i % 5 === 0 ? CHUNK + 1 : 100));
  for (const r of records) store.offer(r);
  // Duplicates within and across batches change nothing.
  store.offer(records[0]!);
  await store.flush();
  store.offer(records[1]!);
  await store.flush();
  assert.equal(await store.delete(records[2]!.id), true);
  await store.ingest([records[2]!, records[3]!]);

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const truth = db.prepare('SELECT count(*) AS count, sum(size_bytes) AS bytes FROM records').get() as { count: number; bytes: number };
  assert.equal(truth.count, 700);
  const stats = store.stats();
  assert.equal(stats.count, truth.count);
  assert.equal(stats.bytes, truth.bytes);
});

test('a record that cannot be encoded is dropped on its own; the rest of its batch is stored', async (t) => {
  const observer = new CountingObserver();
  const logger = new MemoryLogger();
  const { store } = await openStore(t, { observer, logger });
  const good = [makeRecord(), makeRecord()];
  // A BigInt cannot be written as JSON: the document of this record cannot be built.
  const bad = makeRecord({ redacted: [10n as unknown as string] });
  store.offer(good[0]!);
  store.offer(bad);
  store.offer(good[1]!);
  await store.flush();

  assert.equal(observer.drops.storage_error, 1);
  assert.equal(observer.storedCount, 2);
  for (const r of good) assert.deepEqual(store.get(r.id), r);
  assert.equal(store.get(bad.id), null);
  assert.equal(logger.count('error', 'store write failed'), 1);
});

test('a record is stored as it was offered: the store takes its document then, so later changes to the object are not written', async (t) => {
  const { store } = await openStore(t);
  const r = makeRecord();
  const offered = structuredClone(r);
  assert.equal(store.offer(r), true);
  // The producer gave the record away; anything it does to the object now must not reach the disk.
  r.request.url = '/changed';
  r.request.headers.push(['X-Late', '1']);
  r.status = 599;
  await store.flush();
  const got = store.get(r.id)!;
  assert.equal(got.protocol, 'http');
  assert.deepEqual({ ...got, request: { ...got.request, body: null }, response: { ...got.response!, body: null } }, {
    ...offered,
    request: { ...offered.request, body: null },
    response: { ...offered.response!, body: null },
  });
  // structuredClone turned the body Buffers into plain Uint8Arrays: compare bytes.
  assert.ok(got.request.body.data.equals(offered.request.body.data));
  assert.ok(got.response!.body.data.equals(offered.response!.body.data));
});

test('ingest is all or nothing: one record that cannot be encoded refuses the whole batch, naming it', async (t) => {
  const { store } = await openStore(t);
  const good = [makeRecord(), makeRecord()];
  const bad = makeRecord({ redacted: [10n as unknown as string] });
  await assert.rejects(store.ingest([good[0]!, bad, good[1]!]), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'QP_ERR_STORE_WRITE');
    assert.match(err.message, new RegExp(`nothing of the batch was stored: record 1 \\(${bad.id}\\) could not be encoded`));
    return true;
  });
  for (const r of [...good, bad]) assert.equal(store.get(r.id), null);
  // The store still takes the good records afterwards.
  assert.equal((await store.ingest(good)).stored, 2);
  for (const r of good) assert.deepEqual(store.get(r.id), r);
});
