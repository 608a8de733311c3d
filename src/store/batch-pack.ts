import type { IndexColumns } from './record-codec.js';
import type { Extent } from './segment-log.js';
import type { WriterFailure } from './writer-protocol.js';

/**
 * A batch of index rows as it crosses to the writer thread. The payload bytes are already in a
 * segment; what crosses is each record's index columns and where its extent lies. A structured
 * clone costs per value (hundreds of nanoseconds for each string and number of every record), so
 * the columns travel as two values: every number in one Float64Array whose buffer is transferred,
 * every string concatenated into one string (their lengths are among the numbers; -1 is null).
 */
export interface PackedBatch {
  /** Records in the batch. */
  count: number;
  /** {@link NUM_FIELDS} numbers per record, then the string lengths ({@link STR_FIELDS} per record). */
  nums: Float64Array;
  /** The records' strings, back to back. */
  strs: string;
  /** Records that could not be framed (they are lost) and why the last one failed. */
  failed: number;
  error: WriterFailure | null;
}

/** A record as the writer inserts it: index columns and its extent. */
export type IndexRow = IndexColumns & Extent;

type NumKey = 'started_at' | 'duration_ms' | 'size_bytes' | 'status' | 'bytes_in' | 'bytes_out' | 'marks' | 'nchunks' | 'seg' | 'off' | 'len';
type StrKey = 'id' | 'protocol' | 'node_id' | 'method' | 'url' | 'client' | 'downstream' | 'error' | 'state';

const NUMS: readonly NumKey[] = ['started_at', 'duration_ms', 'size_bytes', 'status', 'bytes_in', 'bytes_out', 'marks', 'nchunks', 'seg', 'off', 'len'];
const STRS: readonly StrKey[] = ['id', 'protocol', 'node_id', 'method', 'url', 'client', 'downstream', 'error', 'state'];
const NUM_FIELDS = NUMS.length;
const STR_FIELDS = STRS.length;
/** Stands for null among the numbers (no column holds NaN). */
const NULL_NUM = Number.NaN;

/** Packs index columns and their extents (same order, same length). */
export function packBatch(columns: readonly IndexColumns[], extents: readonly Extent[], failed = 0, error: WriterFailure | null = null): PackedBatch {
  const count = columns.length;
  const nums = new Float64Array(count * (NUM_FIELDS + STR_FIELDS));
  let strs = '';
  let n = 0;
  let l = count * NUM_FIELDS;
  // Fields read by name, in the order of NUMS and STRS (a test checks it): a loop over the key
  // lists reads them by computed key, ~3× the cost per record. Strings are appended to one string
  // (V8 joins them as a rope, flattened once when the message is serialised).
  const str = (v: string | null): void => {
    if (v === null) nums[l++] = -1;
    else {
      nums[l++] = v.length;
      strs += v;
    }
  };
  for (let i = 0; i < count; i++) {
    const c = columns[i]!;
    const e = extents[i]!;
    nums[n++] = c.started_at;
    nums[n++] = c.duration_ms;
    nums[n++] = c.size_bytes;
    nums[n++] = c.status ?? NULL_NUM;
    nums[n++] = c.bytes_in ?? NULL_NUM;
    nums[n++] = c.bytes_out ?? NULL_NUM;
    nums[n++] = c.marks;
    nums[n++] = c.nchunks ?? NULL_NUM;
    nums[n++] = e.seg;
    nums[n++] = e.off;
    nums[n++] = e.len;
    str(c.id);
    str(c.protocol);
    str(c.node_id);
    str(c.method);
    str(c.url);
    str(c.client);
    str(c.downstream);
    str(c.error);
    str(c.state);
  }
  return { count, nums, strs, failed, error };
}

/** The writer's side of {@link packBatch}. Rows are built as literals: one object shape for all. */
export function unpackBatch(batch: PackedBatch): IndexRow[] {
  const { nums: v, strs } = batch;
  const out: IndexRow[] = [];
  let l = batch.count * NUM_FIELDS;
  let s = 0;
  const str = (): string | null => {
    const len = v[l++]!;
    if (len < 0) return null;
    const text = strs.slice(s, s + len);
    s += len;
    return text;
  };
  const num = (x: number): number | null => (Number.isNaN(x) ? null : x);
  for (let i = 0; i < batch.count; i++) {
    const n = i * NUM_FIELDS;
    // Same order as STRS.
    const id = str()!;
    const protocol = str()!;
    const node_id = str()!;
    const method = str();
    const url = str();
    const client = str();
    const downstream = str();
    const error = str();
    const state = str();
    out.push({
      id,
      protocol,
      node_id,
      started_at: v[n]!,
      duration_ms: v[n + 1]!,
      size_bytes: v[n + 2]!,
      method,
      url,
      status: num(v[n + 3]!),
      client,
      downstream,
      bytes_in: num(v[n + 4]!),
      bytes_out: num(v[n + 5]!),
      error,
      state,
      marks: v[n + 6]!,
      nchunks: num(v[n + 7]!),
      seg: v[n + 8]!,
      off: v[n + 9]!,
      len: v[n + 10]!,
    });
  }
  return out;
}
