/**
 * The segment log on its own: frame checksums, vectored appends that roll, and the tail check at
 * open that cuts what was written after the last indexed byte (complete frames and a torn one).
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FrameKind, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES, readFrame, segmentFileName, writeFrameHeader } from '../../src/store/segment-format.js';
import { SegmentLog, type PendingExtent } from '../../src/store/segment-log.js';
import { PayloadReader } from '../../src/store/payload-reader.js';
import type { TailReport } from '../../src/store/segment-tail.js';
import { MemoryLogger, binary, tempDir } from './helpers.js';

/** One extent of a single frame over `pieces` (written from them, not from a joined copy). */
function extent(kind: FrameKind, ...pieces: Buffer[]): PendingExtent {
  const length = pieces.reduce((n, p) => n + p.byteLength, 0);
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  writeFrameHeader(head, 0, kind, pieces, length);
  return { pieces: [head, ...pieces], length: FRAME_HEADER_BYTES + length };
}

function open(dir: string, over: { rollBytes?: number; indexedEnd?: number | null; cuts?: TailReport[]; logger?: MemoryLogger } = {}): SegmentLog {
  return SegmentLog.open({
    dir,
    rollBytes: over.rollBytes ?? 1024 * 1024,
    logger: over.logger ?? new MemoryLogger(),
    indexedEnd: () => over.indexedEnd ?? null,
    maxReferenced: () => 0,
    onTailCut: (_id, r) => over.cuts?.push(r),
  });
}

test('a frame checksum covers its length, kind and payload; a cut frame reads as short', () => {
  const payload = Buffer.from('hello, segment');
  const head = Buffer.alloc(12);
  writeFrameHeader(head, 0, FrameKind.doc, [payload.subarray(0, 5), payload.subarray(5)], payload.length);
  const buf = Buffer.concat([head, payload]);
  const f = readFrame(buf, 0);
  assert.ok(typeof f !== 'string');
  assert.equal(f.kind, FrameKind.doc);
  assert.deepEqual(f.payload, payload);
  for (const at of [0, 4, 12, buf.length - 1]) {
    const bad = Buffer.from(buf);
    bad[at] = bad[at]! ^ 0x01;
    assert.notEqual(typeof readFrame(bad, 0), 'object', `a flipped bit at ${at} is caught`);
  }
  assert.equal(readFrame(buf.subarray(0, buf.length - 1), 0), 'short');
  assert.equal(readFrame(buf.subarray(0, 11), 0), 'short');
});

test('appends are placed back to back, roll past rollBytes, and read back exactly', async (t) => {
  const dir = await tempDir(t);
  const log = open(dir, { rollBytes: 4096 });
  const bodies = Array.from({ length: 6 }, () => binary(1500));
  const refs = await log.write(bodies.map((b) => extent(FrameKind.responseBody, b.subarray(0, 700), b.subarray(700))));
  await log.close();
  assert.deepEqual(
    refs.map((r) => [r.seg, r.off]),
    [
      [1, 16],
      [1, 16 + 1512],
      [2, 16],
      [2, 16 + 1512],
      [3, 16],
      [3, 16 + 1512],
    ],
  );
  assert.deepEqual(readdirSync(dir).sort(), [1, 2, 3].map(segmentFileName));
  const reader = new PayloadReader(dir);
  t.after(() => reader.close());
  refs.forEach((r, i) => {
    const f = readFrame(reader.read(r), 0);
    assert.ok(typeof f !== 'string');
    assert.deepEqual(f.payload, bodies[i]);
  });
});

test('opening cuts complete but unindexed frames and a torn frame off the last segment, and appends there', async (t) => {
  const dir = await tempDir(t);
  const first = open(dir);
  const refs = await first.write([extent(FrameKind.doc, binary(100)), extent(FrameKind.doc, binary(200)), extent(FrameKind.doc, binary(300))]);
  await first.close();
  const path = join(dir, segmentFileName(1));
  // A torn frame: a header that promises more than was written.
  const torn = extent(FrameKind.responseBody, binary(5000));
  appendFileSync(path, Buffer.concat([...torn.pieces]).subarray(0, 2000));

  const cuts: TailReport[] = [];
  const indexedEnd = refs[0]!.off + refs[0]!.len; // only the first record was committed
  const second = open(dir, { indexedEnd, cuts });
  assert.deepEqual(cuts, [{ end: indexedEnd, cutBytes: 212 + 312 + 2000, completeFrames: 2, torn: true }]);
  assert.equal(statSync(path).size, indexedEnd);
  const [next] = await second.write([extent(FrameKind.doc, binary(10))]);
  await second.close();
  assert.deepEqual(next, { seg: 1, off: indexedEnd, len: 22 });
});

test('a segment the index references beyond its end is left alone: appending goes to a new segment', async (t) => {
  const dir = await tempDir(t);
  const first = open(dir);
  const [ref] = await first.write([extent(FrameKind.doc, binary(1000))]);
  await first.close();
  truncateSync(join(dir, segmentFileName(1)), 500); // bytes the index relies on are gone
  const logger = new MemoryLogger();
  const second = open(dir, { indexedEnd: ref!.off + ref!.len, logger });
  assert.equal(logger.count('error', 'does not match the index'), 1);
  const [next] = await second.write([extent(FrameKind.doc, binary(10))]);
  await second.close();
  assert.equal(next!.seg, 2);
  assert.equal(statSync(join(dir, segmentFileName(1))).size, 500);
});

test('a header torn when the segment was created is written again', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(join(dir, segmentFileName(1)), Buffer.from('QPSEG0'));
  const cuts: TailReport[] = [];
  const log = open(dir, { cuts });
  assert.equal(cuts[0]?.torn, true);
  const [ref] = await log.write([extent(FrameKind.doc, Buffer.from('{}'))]);
  await log.close();
  assert.deepEqual(ref, { seg: 1, off: SEGMENT_HEADER_BYTES, len: 14 });
  assert.equal(readFileSync(join(dir, segmentFileName(1))).subarray(0, 8).toString('latin1'), 'QPSEG001');
});

test('a batch larger than one write call is split into calls and lands byte for byte, large pieces included', async (t) => {
  const dir = await tempDir(t);
  const log = open(dir, { rollBytes: 64 * 1024 * 1024 });
  // Pieces of many sizes around WRITE_CALL_BYTES: small ones share a call, a 700 KiB one is a call of its own.
  const sizes = [1, 100 * 1024, 200 * 1024, 700 * 1024, 3, 256 * 1024, 256 * 1024 - 12, 5000, 300 * 1024];
  const bodies = sizes.map((n) => binary(n));
  const refs = await log.write(bodies.map((b) => extent(FrameKind.responseBody, b.subarray(0, Math.floor(b.length / 2)), b.subarray(Math.floor(b.length / 2)))));
  await log.close();
  const reader = new PayloadReader(dir);
  t.after(() => reader.close());
  let end = SEGMENT_HEADER_BYTES;
  refs.forEach((r, i) => {
    assert.equal(r.off, end, `extent ${i} follows the one before`);
    end += r.len;
    const f = readFrame(reader.read(r), 0);
    assert.ok(typeof f !== 'string', `extent ${i} reads back as a frame`);
    assert.ok(f.payload.equals(bodies[i]!), `extent ${i} bytes`);
  });
  assert.equal(statSync(join(dir, segmentFileName(1))).size, end, 'nothing written past the last extent');
});
