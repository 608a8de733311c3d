import type { PayloadReader } from './payload-reader.js';
import type { Extent } from './segment-log.js';

/**
 * A feed page's records mostly lie back to back in one segment (they were appended in feed order),
 * so their extents are read as runs: one pread per run instead of one per record, each record's
 * bytes a view of the run. Measured on 1 KiB exchanges (bench/sync-steps.mjs): a pread per record
 * cost ~4 µs of CPU, the runs ~0.3 µs per record.
 */

/** A run is at most this long (a page of a few MiB of small records is a handful of reads). */
const RUN_BYTES = 1024 * 1024;
/** An extent larger than this is read alone: a run must not hold a large body's buffer alive for its neighbours. */
const RUN_EXTENT_MAX = 256 * 1024;
/**
 * Bytes between two extents that are read and dropped rather than start a new run: a TCP session's
 * append lands between HTTP records and moves along the feed, leaving such a hole.
 */
const GAP_MAX = 16 * 1024;

/**
 * The bytes of each extent that shares a run with another (`null` slots: read it alone, as before).
 * A run that cannot be read whole (its segment is gone, or ends early) leaves its slots null, so the
 * per-record read reports exactly the records concerned. `null` extents are not read.
 */
export function readRuns(extents: ReadonlyArray<Extent | null>, payloads: PayloadReader): Array<Buffer | null> {
  const out: Array<Buffer | null> = new Array<Buffer | null>(extents.length).fill(null);
  let first = -1;
  let last = -1;
  const flush = (): void => {
    if (first >= 0 && last > first) readRun(extents, first, last, payloads, out);
    first = -1;
  };
  for (let i = 0; i < extents.length; i++) {
    const e = extents[i];
    if (!e || e.len > RUN_EXTENT_MAX) {
      flush();
      continue;
    }
    if (first >= 0) {
      const a = extents[first]!;
      const prev = extents[last]!;
      const gap = e.off - (prev.off + prev.len);
      if (e.seg === a.seg && gap >= 0 && gap <= GAP_MAX && e.off + e.len - a.off <= RUN_BYTES) {
        last = i;
        continue;
      }
      flush();
    }
    first = i;
    last = i;
  }
  flush();
  return out;
}

function readRun(extents: ReadonlyArray<Extent | null>, first: number, last: number, payloads: PayloadReader, out: Array<Buffer | null>): void {
  const a = extents[first]!;
  const z = extents[last]!;
  let run: Buffer;
  try {
    run = payloads.read({ seg: a.seg, off: a.off, len: z.off + z.len - a.off });
  } catch {
    return;
  }
  for (let i = first; i <= last; i++) {
    const e = extents[i]!;
    out[i] = run.subarray(e.off - a.off, e.off - a.off + e.len);
  }
}
