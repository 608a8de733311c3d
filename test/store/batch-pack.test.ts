import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packBatch, unpackBatch, type IndexRow } from '../../src/store/batch-pack.js';
import type { IndexColumns } from '../../src/store/record-codec.js';
import type { Extent } from '../../src/store/segment-log.js';

/** Columns with every nullable one null, then set one by one, and strings of several shapes. */
function variants(): IndexColumns[] {
  const http: IndexColumns = {
    id: '01a24e72-a8a2-76e7-8127-c2c5aee61aea',
    protocol: 'http',
    node_id: 'node-a',
    started_at: 1796612466835,
    duration_ms: 14.819672000001447,
    size_bytes: 1900,
    method: 'GET',
    url: 'http://example.test/p?q=ü&x=😀',
    status: 200,
    client: '[::1]:40000',
    downstream: 'http://127.0.0.1:8080',
    bytes_in: 0,
    bytes_out: 1024,
    error: null,
    state: null,
    marks: 5,
    nchunks: null,
  };
  const allNull: IndexColumns = {
    ...http,
    id: 'b',
    method: null,
    url: null,
    status: null,
    client: null,
    downstream: null,
    bytes_in: null,
    bytes_out: null,
    error: null,
    state: null,
    nchunks: null,
  };
  const tcp: IndexColumns = {
    ...allNull,
    id: 'c',
    protocol: 'tcp',
    node_id: 'ノード',
    client: '127.0.0.1:1',
    downstream: '127.0.0.1:5432',
    bytes_in: 2 ** 40,
    bytes_out: 0,
    error: 'QP_ERR_DOWNSTREAM_RESET',
    state: 'open',
    marks: 0,
    nchunks: 17,
  };
  const empty: IndexColumns = { ...http, id: 'd', method: '', url: '', client: '', downstream: '', error: '', state: '' };
  const out = [http, allNull, tcp, empty];
  // Each nullable column set alone on an otherwise all-null row.
  const set: Partial<IndexColumns> = { method: 'POST', url: '/u', status: 0, client: 'c', downstream: 'd', bytes_in: 1, bytes_out: 2, error: 'e', state: 'closed', nchunks: 0 };
  for (const [key, value] of Object.entries(set)) out.push({ ...allNull, id: `only-${key}`, [key]: value });
  return out;
}

void describe('batch packing (index rows to the writer thread)', () => {
  void it('gives the writer every column and extent as packed, nulls and empty strings apart', () => {
    const columns = variants();
    const extents: Extent[] = columns.map((_, i) => ({ seg: i + 1, off: i * 4096 + 16, len: 100 + i }));
    const packed = packBatch(columns, extents, 2, { code: 'QP_ERR_STORE_RECORD', message: 'x' });
    assert.equal(packed.count, columns.length);
    assert.equal(packed.failed, 2);
    assert.deepEqual(packed.error, { code: 'QP_ERR_STORE_RECORD', message: 'x' });
    // What crosses the thread boundary is a structured clone.
    const rows = unpackBatch(structuredClone(packed));
    const expected: IndexRow[] = columns.map((c, i) => ({ ...c, ...extents[i]! }));
    assert.deepEqual(rows, expected);
  });

  void it('packs an empty batch', () => {
    const packed = packBatch([], []);
    assert.equal(packed.count, 0);
    assert.deepEqual(unpackBatch(packed), []);
  });
});
