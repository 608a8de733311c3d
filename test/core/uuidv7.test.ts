import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7, uuidv7Time } from '../../src/core/uuidv7.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

void describe('uuidv7', () => {
  void it('encodes the 48-bit millisecond time it is given, version 7 and the RFC 9562 variant', () => {
    // Times on both sides of 32-bit boundaries, rising (a time before the last one given is
    // replaced by the last one: ids stay in order), up to the largest 48-bit one in the last test.
    for (const t of [0x100000000 - 1, 0x100000000, 1796612466835, 0x1234_5678_9abc]) {
      const id = uuidv7(t);
      assert.match(id, UUIDV7);
      assert.equal(uuidv7Time(id), t, `time ${t}`);
      assert.equal(id.slice(0, 8) + id.slice(9, 13), t.toString(16).padStart(12, '0'));
    }
  });

  void it('counts up inside one millisecond, then borrows the next one', () => {
    const t = 2 ** 47 + 12345; // far ahead of every earlier call in this process
    const ids = Array.from({ length: 5000 }, () => uuidv7(t));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids, 'ids sort in the order they were made');
    for (const id of ids) assert.match(id, UUIDV7);
    // 12 bits of counter start at most at 0x7ff: 5000 ids in one millisecond spill into the next.
    assert.equal(uuidv7Time(ids[0]!), t);
    assert.ok(uuidv7Time(ids.at(-1)!) > t);
    // Random bits differ between ids (74 of them).
    assert.notEqual(ids[0]!.slice(19), ids[1]!.slice(19));
  });

  void it('encodes the largest 48-bit time', () => {
    const id = uuidv7(2 ** 48 - 1);
    assert.match(id, UUIDV7);
    assert.equal(id.slice(0, 13), 'ffffffff-ffff');
  });
});
