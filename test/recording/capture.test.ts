import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BodyCapture, releaseRecordBodies } from '../../src/recording/capture.js';
import type { HttpRecord } from '../../src/recording/model.js';
import { makeRecord, openStore } from '../store/helpers.js';

/** A body captured for recording from `chunks`, as the proxy captures it. */
function capture(chunks: Buffer[], limit = 1024 * 1024): Buffer {
  const c = BodyCapture.forRecording(limit);
  for (const chunk of chunks) c.push(chunk);
  return c.result().data;
}

function recordWith(req: Buffer, res: Buffer): HttpRecord {
  const r = makeRecord();
  r.request.body = { data: req, size: req.length, truncated: false };
  r.response!.body = { data: res, size: res.length, truncated: false };
  return r;
}

function overlaps(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

test('a recording capture joins its chunks byte for byte, up to its limit, and does not keep the chunks it was given when there are several', () => {
  const parts = [randomBytes(700), randomBytes(1), randomBytes(5000)];
  const data = capture(parts);
  assert.deepEqual(data, Buffer.concat(parts));
  for (const p of parts) assert.ok(!overlaps(data, p), 'the body is a copy, not a view of a read');

  const c = BodyCapture.forRecording(1000);
  c.push(parts[0]!);
  c.push(parts[2]!);
  const r = c.result();
  assert.deepEqual(r.data, Buffer.concat([parts[0]!, parts[2]!]).subarray(0, 1000));
  assert.equal(r.size, 5700);
  assert.equal(r.truncated, true);
  assert.equal(BodyCapture.forRecording(10).result().data.length, 0);
});

test('released slab memory is reused, and never under a body that is still held (released twice or not at all)', () => {
  const held: Array<{ data: Buffer; copy: Buffer }> = [];
  const seen = new Set<ArrayBufferLike>();
  let reused = false;
  for (let i = 0; i < 400; i++) {
    const bytes = randomBytes(16 * 1024 + (i % 7) * 1000);
    const data = capture([bytes.subarray(0, 100), bytes.subarray(100)]);
    if (seen.has(data.buffer)) reused = true;
    seen.add(data.buffer);
    for (const h of held) assert.ok(!overlaps(h.data, data), `body ${i} was placed over a body still held`);
    if (i % 10 === 0) {
      held.push({ data, copy: Buffer.from(bytes) });
    } else {
      const r = recordWith(data, Buffer.alloc(0));
      releaseRecordBodies(r);
      // A second release of the same record must not free the region again.
      releaseRecordBodies(r);
    }
  }
  for (const h of held) assert.deepEqual(h.data, h.copy, 'a held body changed');
  assert.ok(reused, 'no slab was reused after its bodies were released');
  // Bodies that are no slab region (a HAR import, a test's buffers) are left alone.
  const plain = Buffer.from('plain');
  releaseRecordBodies(recordWith(plain, plain));
  assert.equal(plain.toString(), 'plain');
});

test('the store hands bodies back only after writing them: what it reads back is what was captured', async (t) => {
  const { store } = await openStore(t);
  const expected = new Map<string, { req: Buffer; res: Buffer }>();
  for (let i = 0; i < 60; i++) {
    const req = randomBytes(i * 37);
    const res = randomBytes(48 * 1024 + i);
    const r = recordWith(capture([req]), capture([res.subarray(0, 1000), res.subarray(1000)]));
    expected.set(r.id, { req, res });
    assert.equal(store.offer(r), true);
    if (i % 20 !== 19) continue;
    // The batch is framed now and written later; captures made meanwhile, released at once, reuse
    // (and overwrite) whatever the store has released so far.
    const flushed = store.flush();
    for (let k = 0; k < 40; k++) releaseRecordBodies(recordWith(capture([randomBytes(60 * 1024)]), Buffer.alloc(0)));
    await flushed;
  }
  await store.flush();
  for (const [id, want] of expected) {
    const got = store.get(id) as HttpRecord;
    assert.deepEqual(got.request.body.data, want.req, `request body of ${id}`);
    assert.deepEqual(got.response!.body.data, want.res, `response body of ${id}`);
  }
});

test('a small body in one read is that read, and the store copies it when offered: changing the read later changes nothing stored', async (t) => {
  const { store } = await openStore(t);
  const expected = new Map<string, { req: Buffer; res: Buffer }>();
  for (let i = 0; i < 30; i++) {
    // Up to 8 KiB (SMALL_BODY_BYTES) in one read each; the proxy's reads are fresh Buffers.
    const reqRead = randomBytes(1 + i * 97);
    const resRead = randomBytes(8 * 1024 - i);
    const req = capture([reqRead]);
    const res = capture([resRead]);
    assert.ok(overlaps(req, reqRead) && overlaps(res, resRead), 'one small read is recorded without a copy');
    const r = recordWith(req, res);
    expected.set(r.id, { req: Buffer.from(reqRead), res: Buffer.from(resRead) });
    assert.equal(store.offer(r), true);
    // The reads' memory is overwritten once the record was offered (as if reused).
    reqRead.fill(0);
    resRead.fill(0xff);
  }
  await store.flush();
  for (const [id, want] of expected) {
    const got = store.get(id) as HttpRecord;
    assert.deepEqual(got.request.body.data, want.req, `request body of ${id}`);
    assert.deepEqual(got.response!.body.data, want.res, `response body of ${id}`);
  }
});
