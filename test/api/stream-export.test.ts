import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { recordToJson } from '../../src/api/record-json.js';
import { recordsToHar } from '../../src/har/export.js';
import type { HttpRecord } from '../../src/recording/model.js';
import { STREAM_MIN_BYTES } from '../../src/har/export-stream.js';
import { openStore } from '../store/helpers.js';
import { call, makeRecord, startApi } from './api-helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const VERSION = '9.9.9-test';

function withBodies(startedAt: number, req: Buffer, res: Buffer, reqTruncated = false): HttpRecord {
  const r = makeRecord(startedAt, { reqBody: req, resBody: res });
  r.request.body = { data: req, size: req.length + (reqTruncated ? 10 : 0), truncated: reqTruncated };
  return r;
}

test('records with large bodies are written piece by piece, as exactly the JSON and HAR of the whole record', async (t) => {
  const { store } = await openStore(t);
  const t0 = Date.now();
  // Multi-byte characters across the read pieces, cut inside one at the capture limit.
  const euros = Buffer.from(`a${'€'.repeat(600_000)}`);
  const text = Buffer.from(`\uFEFF{"q":"a \\"quoted\\" line\\nand\\ttabs \u0001 ü"}${' '.repeat(1_100_000)}`);
  const records = [
    withBodies(t0, euros.subarray(0, euros.length - 1), randomBytes(STREAM_MIN_BYTES + 12345), true),
    withBodies(t0 + 1, Buffer.alloc(0), text),
    withBodies(t0 + 2, Buffer.from('small'), Buffer.from('{"small":true}')),
  ];
  for (const r of records) assert.equal(store.offer(structuredClone(r)), true);
  await store.flush();
  const { port } = await startApi(t, { records: store, version: VERSION });

  for (const r of records) {
    const whole = store.get(r.id) as HttpRecord;
    const large = r !== records[2];
    const json = await call(port, 'GET', `/api/records/${r.id}`);
    assert.equal(json.status, 200);
    assert.equal(json.text, JSON.stringify(recordToJson(whole)), `JSON of ${r.id}`);
    assert.equal(json.headers['transfer-encoding'], large ? 'chunked' : undefined, 'large records are streamed, small ones are not');
    const har = await call(port, 'GET', `/api/records/${r.id}?format=har`);
    assert.equal(har.status, 200);
    assert.equal(har.text, JSON.stringify(recordsToHar([whole], { version: VERSION, next: null })), `HAR of ${r.id}`);
  }
  const page = await call(port, 'GET', '/api/records?format=har');
  assert.equal(page.status, 200);
  const all = records.map((r) => store.get(r.id) as HttpRecord);
  assert.equal(page.text, JSON.stringify(recordsToHar(all, { version: VERSION, next: null })));
  // The checks still apply: a bad query is refused before anything is read.
  assert.equal((await call(port, 'GET', `/api/records/${records[0]!.id}?format=csv`)).status, 400);
});

/** The SHA-256 of a GET's body and the most this process's heap plus buffers grew above `base` while it was read. */
function fetchMeasured(port: number, path: string, base: number): Promise<{ status: number; sha: string; grew: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const hash = createHash('sha256');
      let grew = 0;
      let sinceSample = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        sinceSample += c.length;
        if (sinceSample < 4 * 1024 * 1024) return;
        sinceSample = 0;
        gc();
        const m = process.memoryUsage();
        grew = Math.max(grew, m.heapUsed + m.arrayBuffers - base);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha: hash.digest('hex'), grew }));
    });
    req.on('error', reject);
    req.end();
  });
}

function baseline(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('a 50 MiB body is exported as JSON and as HAR without the process ever holding it', async (t) => {
  const { store } = await openStore(t);
  const big = withBodies(Date.now(), Buffer.from('{"upload":true}'), randomBytes(50 * 1024 * 1024));
  const id = big.id;
  assert.equal(store.offer(big), true);
  await store.flush();
  // What the whole record makes, hashed; then nothing of it is kept.
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  let whole: HttpRecord | null = store.get(id) as HttpRecord;
  const want = {
    json: sha(JSON.stringify(recordToJson(whole))),
    har: sha(JSON.stringify(recordsToHar([whole], { version: VERSION, next: null }))),
  };
  whole = null;
  big.response!.body.data = Buffer.alloc(0);
  const { port } = await startApi(t, { records: store, version: VERSION });

  const MiB = 1024 * 1024;
  for (const [path, expected] of [
    [`/api/records/${id}`, want.json],
    [`/api/records/${id}?format=har`, want.har],
    ['/api/records?format=har', want.har],
  ] as const) {
    const got = await fetchMeasured(port, path, baseline());
    assert.equal(got.status, 200, path);
    assert.equal(got.sha, expected, `${path}: the streamed document is the whole record's`);
    // Whole, the body alone is 50 MiB, its base64 67 MiB more.
    assert.ok(got.grew < 32 * MiB, `${path}: heap and buffers grew by ${(got.grew / MiB).toFixed(1)} MiB while exporting`);
  }
});

/** A GET whose answer may break off: its status, and whether its body arrived whole. */
function fetchEnd(port: number, path: string): Promise<{ status: number; ended: boolean; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let ended = false;
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => (ended = true));
      res.on('error', () => {}); // "aborted": what is being looked for
      res.on('close', () => resolve({ status: res.statusCode ?? 0, ended, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a large body that fails its checksum breaks the streamed answer instead of completing it; a small one is a 500', async (t) => {
  const { store, path } = await openStore(t);
  const large = withBodies(Date.now(), Buffer.alloc(0), randomBytes(3 * STREAM_MIN_BYTES));
  const small = withBodies(Date.now(), Buffer.alloc(0), randomBytes(4000));
  for (const r of [large, small]) assert.equal(store.offer(structuredClone(r)), true);
  await store.flush();
  // One byte of each body, in the middle, flipped on disk.
  const db = new Database(path, { readonly: true });
  for (const r of [large, small]) {
    const row = db.prepare('SELECT seg, off, len FROM records WHERE id = ?').get(r.id) as { seg: number; off: number; len: number };
    const fd = openSync(join(`${path}.segments`, `${String(row.seg).padStart(8, '0')}.seg`), 'r+');
    const at = row.off + row.len - Math.floor(r.response!.body.data.length / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
  }
  db.close();
  const { port } = await startApi(t, { records: store, version: VERSION });
  for (const path of [`/api/records/${large.id}`, `/api/records/${large.id}?format=har`, '/api/records?format=har']) {
    const got = await fetchEnd(port, path);
    assert.equal(got.status, 200, path);
    assert.equal(got.ended, false, `${path}: the answer must break off, not end as if whole (${got.bytes} bytes came)`);
  }
  const answer = await call(port, 'GET', `/api/records/${small.id}`);
  assert.equal(answer.status, 500);
  assert.equal(answer.json().code, 'QP_ERR_STORE_DAMAGED');
});
