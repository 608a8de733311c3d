import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { HttpRecord } from '../../src/recording/model.js';
import { SCHEMA_VERSION } from '../../src/store/index.js';
import { httpDoc } from '../../src/store/record-codec.js';
import { CountingObserver, binary, makeRecord, openStore, segmentFrames } from './helpers.js';

test('a full HttpRecord with bodies over 256 KiB comes back identical, its payload in segment frames', async (t) => {
  const { store, path } = await openStore(t);
  // A slice of a larger buffer, like a socket read: exercises the exact-size copy before postMessage.
  const backing = binary(600 * 1024 + 2000);
  const reqData = backing.subarray(1000, 1000 + 600 * 1024);
  const resData = binary(300 * 1024);
  const record = makeRecord({
    client: { address: '::1', port: 40000 },
    tls: { sni: 'shop.example', alpn: 'http/1.1', version: 'TLSv1.3' },
    request: {
      method: 'PUT',
      url: '/upload?token=[REDACTED]&x=1',
      http_version: '1.1',
      headers: [
        ['Host', 'shop.example'],
        ['x-B', '2'],
        ['X-a', '1'],
        ['Authorization', '[REDACTED]'],
        ['x-B', '3'],
      ],
      body: { data: reqData, size: 700 * 1024, truncated: true },
      trailers: [['X-Checksum', 'abc']],
    },
    response: {
      status: 200,
      status_message: 'OK',
      http_version: '1.1',
      headers: [['Set-Cookie', '[REDACTED]'], ['content-type', 'application/octet-stream']],
      body: { data: resData, size: resData.length, truncated: false },
      trailers: [],
    },
    status: 200,
    error: { code: 'QP_ERR_DOWNSTREAM_RESET', message: 'downstream reset after the response head' },
    redacted: ['request.headers.authorization', 'request.query.token', 'response.headers.set-cookie'],
  });
  assert.equal(store.offer(record), true);
  await store.flush();

  const back = store.get(record.id);
  assert.deepEqual(back, record);
  assert.ok(Buffer.isBuffer(back?.request.body.data));
  assert.deepEqual(back?.request.headers.map(([n]) => n), ['Host', 'x-B', 'X-a', 'Authorization', 'x-B']);
  // offer() must not have touched the caller's object.
  assert.equal(record.request.body.data.byteOffset, 1000);

  // The payload is in a segment, as frames written from the captured Buffers; the row indexes it.
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const row = db.prepare('SELECT size_bytes, doc, req_body, res_body, seg, off, len FROM records').get() as {
    size_bytes: number;
    doc: string;
    req_body: Buffer | null;
    res_body: Buffer | null;
    seg: number;
    off: number;
    len: number;
  };
  assert.deepEqual([row.doc, row.req_body, row.res_body], ['', null, null]);
  const frames = segmentFrames(path);
  assert.deepEqual(
    frames.map((f) => [f.kind, f.length]),
    [
      ['doc', Buffer.byteLength(httpDoc(record))],
      ['requestBody', 600 * 1024],
      ['responseBody', 300 * 1024],
    ],
  );
  assert.deepEqual([row.seg, row.off, row.len], [frames[0]!.seg, frames[0]!.off, frames.reduce((n, f) => n + 12 + f.length, 0)]);
  assert.equal(row.size_bytes, 900 * 1024 + Buffer.byteLength(httpDoc(record)));
});

test('a record without a response and with empty bodies round-trips', async (t) => {
  const { store } = await openStore(t);
  const record = makeRecord({
    response: null,
    status: 502,
    error: { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'connect ECONNREFUSED 127.0.0.1:9' },
  });
  record.request.body = { data: Buffer.alloc(0), size: 0, truncated: false };
  store.offer(record);
  await store.flush();
  assert.deepEqual(store.get(record.id), record);
  assert.equal(store.list({ limit: 1 }).records[0]?.error, 'QP_ERR_DOWNSTREAM_CONNECT');
});

test('get of an unknown id is null', async (t) => {
  const { store } = await openStore(t);
  assert.equal(store.get('01900000-0000-7000-8000-000000000000'), null);
});

test('delete removes the record and its index rows and reports whether it existed', async (t) => {
  const { store, path } = await openStore(t);
  const keep = makeRecord();
  const gone = makeRecord();
  gone.request.body = { data: binary(300 * 1024), size: 300 * 1024, truncated: false };
  store.offer(keep);
  store.offer(gone);
  await store.flush();
  const before = store.stats();

  assert.equal(await store.delete(gone.id), true);
  assert.equal(store.get(gone.id), null);
  assert.equal(await store.delete(gone.id), false);
  assert.deepEqual(store.get(keep.id), keep);
  const after = store.stats();
  assert.equal(after.count, before.count - 1);
  assert.ok(after.bytes < before.bytes - 300 * 1024);

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const orphans = db.prepare('SELECT count(*) AS n FROM extents WHERE record_seq NOT IN (SELECT seq FROM records)').get();
  assert.deepEqual(orphans, { n: 0 });
});

test('an id already stored is skipped, within one batch and across batches', async (t) => {
  const observer = new CountingObserver();
  const { store } = await openStore(t, { observer });
  const record = makeRecord();
  store.offer(record);
  store.offer(record);
  await store.flush();
  store.offer({ ...record, node_id: 'other-node' });
  await store.flush();
  assert.equal(store.stats().count, 1);
  assert.equal(store.get(record.id)?.node_id, 'az-a-1');
  assert.equal(observer.storedCount, 1);
  assert.deepEqual(observer.drops, {});
});

test('stats count records and bytes as the table holds them, and lastSeq never goes back', async (t) => {
  const observer = new CountingObserver();
  const { store, path } = await openStore(t, { observer });
  assert.deepEqual(store.stats(), { count: 0, bytes: 0, queueDepth: 0, lastSeq: 0 });
  const records: HttpRecord[] = [];
  for (let i = 0; i < 7; i++) records.push(makeRecord({ started_at: 1_700_000_000_000 + i }));
  for (const r of records) store.offer(r);
  await store.flush();
  await store.delete(records[6]!.id);

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const sums = db.prepare('SELECT count(*) AS count, sum(size_bytes) AS bytes FROM records').get() as {
    count: number;
    bytes: number;
  };
  const stats = store.stats();
  assert.deepEqual(stats, { count: 6, bytes: sums.bytes, queueDepth: 0, lastSeq: 7 });
  assert.equal(observer.storedCount, 7);

  store.offer(makeRecord());
  await store.flush();
  assert.equal(store.stats().lastSeq, 8);
});

test('readAfter returns full records in ascending seq order from a position', async (t) => {
  const { store } = await openStore(t);
  const records: HttpRecord[] = [];
  // started_at descending: readAfter must follow seq (arrival), not record time.
  for (let i = 0; i < 5; i++) records.push(makeRecord({ started_at: 1_700_000_100_000 - i * 1000 }));
  records[1]!.response!.body = { data: binary(260 * 1024), size: 260 * 1024, truncated: false };
  for (const r of records) store.offer(r);
  await store.flush();

  const first = store.readAfter(0, 3);
  assert.deepEqual(first.map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual(first.map((e) => e.record), records.slice(0, 3));
  const rest = store.readAfter(3, 10);
  assert.deepEqual(rest.map((e) => e.seq), [4, 5]);
  assert.deepEqual(rest.map((e) => e.record.id), [records[3]!.id, records[4]!.id]);
  assert.deepEqual(store.readAfter(5, 10), []);

  await store.delete(records[2]!.id);
  assert.deepEqual(store.readAfter(0, 10).map((e) => e.seq), [1, 2, 4, 5]);
  assert.throws(() => store.readAfter(0, 0), { code: 'QP_ERR_BAD_QUERY' });
});

test('meta keeps free key/values durably and refuses the store\'s own keys', async (t) => {
  const { store, path } = await openStore(t);
  assert.equal(store.getMeta('sync.cursor'), null);
  await store.setMeta('sync.cursor', '42');
  assert.equal(store.getMeta('sync.cursor'), '42');
  await store.setMeta('sync.cursor', '43');
  assert.equal(store.getMeta('sync.cursor'), '43');
  assert.equal(store.getMeta('schema_version'), String(SCHEMA_VERSION));
  assert.match(store.getMeta('created_by') ?? '', /^qproxy /);
  await assert.rejects(store.setMeta('schema_version', '9'), { code: 'QP_ERR_STORE_META_KEY' });
  assert.equal(store.getMeta('schema_version'), String(SCHEMA_VERSION));

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.deepEqual(db.prepare("SELECT value FROM meta WHERE key = 'sync.cursor'").get(), { value: '43' });
});
