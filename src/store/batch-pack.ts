import type { IndexColumns } from './record-codec.js';
import type { Extent } from './segment-log.js';
import type { WriterFailure } from './writer-protocol.js';

/**
 * A batch of index rows as it crosses to the writer thread. The payload bytes are already in a
 * segment; what crosses is each record's index columns and where its extent lies, as one flat
 * array of primitives: posting the record objects themselves would cost a structured clone of
 * every nested header pair, twice (serialize here, deserialize in the writer).
 */
export interface PackedBatch {
  /** Records in `rows`. */
  count: number;
  /** {@link ROW_FIELDS} values per record. */
  rows: Array<string | number | null>;
  /** Records that could not be framed (they are lost) and why the last one failed. */
  failed: number;
  error: WriterFailure | null;
}

/** A record as the writer inserts it: index columns and its extent. */
export type IndexRow = IndexColumns & Extent;

const ROW_FIELDS = 20;

/** Packs index columns and their extents (same order, same length). */
export function packBatch(columns: readonly IndexColumns[], extents: readonly Extent[], failed = 0, error: WriterFailure | null = null): PackedBatch {
  const rows: PackedBatch['rows'] = [];
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    const e = extents[i]!;
    rows.push(
      c.id, c.protocol, c.node_id, c.started_at, c.duration_ms, c.size_bytes, c.method, c.url, c.status, c.client,
      c.downstream, c.bytes_in, c.bytes_out, c.error, c.state, c.marks, c.nchunks, e.seg, e.off, e.len,
    );
  }
  return { count: columns.length, rows, failed, error };
}

/** The writer's side of {@link packBatch}. */
export function unpackBatch(batch: PackedBatch): IndexRow[] {
  const v = batch.rows;
  const out: IndexRow[] = [];
  for (let i = 0; i < batch.count; i++) {
    const b = i * ROW_FIELDS;
    out.push({
      id: v[b] as string,
      protocol: v[b + 1] as string,
      node_id: v[b + 2] as string,
      started_at: v[b + 3] as number,
      duration_ms: v[b + 4] as number,
      size_bytes: v[b + 5] as number,
      method: v[b + 6] as string | null,
      url: v[b + 7] as string | null,
      status: v[b + 8] as number | null,
      client: v[b + 9] as string | null,
      downstream: v[b + 10] as string | null,
      bytes_in: v[b + 11] as number | null,
      bytes_out: v[b + 12] as number | null,
      error: v[b + 13] as string | null,
      state: v[b + 14] as string | null,
      marks: v[b + 15] as number,
      nchunks: v[b + 16] as number | null,
      seg: v[b + 17] as number,
      off: v[b + 18] as number,
      len: v[b + 19] as number,
    });
  }
  return out;
}
