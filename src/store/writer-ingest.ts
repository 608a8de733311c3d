import type Database from 'better-sqlite3';
import type { IndexRow } from './batch-pack.js';
import { tallyKey, type IngestTally } from './meta-keys.js';
import type { IngestResult, WriterFailure } from './writer-protocol.js';

/** What an ingest needs from the writer's connection. */
export interface IngestDeps {
  db: Database.Database;
  /**
   * The writer's record insert (new record, or an extent appended to an open TCP session), inside
   * the ingest's transaction; `each` hears whether each row changed the store.
   */
  insertRows(rows: readonly IndexRow[], each: (row: IndexRow, changed: boolean) => void): { stored: number; bytes: number };
  /** Adds an integer to a meta value (created at 0). */
  addMeta(key: string, amount: number): void;
  setMeta(key: string, value: string): void;
  deleteMeta(key: string): void;
}

/**
 * Stores a batch received by sync as one transaction: every record, the per-node tallies and the
 * meta writes commit together or not at all. Records go through the same insert as recorded ones,
 * so an id already present is skipped and a TCP segment extends its open session. Throws (and so
 * rolls back everything) when any write fails. The records arrive encoded (see batch-pack.ts): the
 * caller refuses the whole batch when one of them cannot be; their frames are already in a
 * segment (frames of a skipped duplicate stay there unreferenced, until their segment goes).
 */
export function ingestBatch(
  deps: IngestDeps,
  rows: readonly IndexRow[],
  tally: IngestTally | null,
  meta: ReadonlyArray<[string, string | null]>,
): IngestResult {
  return deps.db.transaction(() => {
    const result: IngestResult = { stored: 0, skipped: 0, bytes: 0, byNode: {} };
    // One pass in this transaction: a savepoint and two total_changes() reads per row cost more
    // than the insert itself (the writer thread spent ~23 µs per synced record with them, ~9 without).
    result.bytes = deps.insertRows(rows, (row, changed) => {
      const n = (result.byNode[row.node_id] ??= { stored: 0, skipped: 0 });
      if (changed) {
        result.stored++;
        n.stored++;
      } else {
        result.skipped++;
        n.skipped++;
      }
    }).bytes;
    if (tally !== null) {
      for (const [node, n] of Object.entries(result.byNode)) {
        if (n.stored > 0) deps.addMeta(tallyKey(tally.stored, node), n.stored);
        if (n.skipped > 0) deps.addMeta(tallyKey(tally.skipped, node), n.skipped);
      }
    }
    for (const [key, value] of meta) {
      if (value === null) deps.deleteMeta(key);
      else deps.setMeta(key, value);
    }
    return result;
  })();
}

/** Committed ingests remembered as possible predecessors; a chain needs only its last one. */
const REMEMBERED_INGESTS = 1024;

/**
 * Why a pipelined receiver cannot lose data when one batch of its chain fails: batch N+1 was
 * prepared assuming N commits (its TCP chunk counts and ledger figures build on N's), so N+1
 * committing without N would claim chunks that were never stored, and the sender's retry of N
 * would then be skipped as a duplicate. The writer handles ingests strictly in order, so when N+1
 * arrives N's fate is known here: N+1 is refused unless N committed on this very writer. A
 * restarted writer (or a reopened file) knows no predecessor and refuses every chained ingest
 * until the receiver starts a new chain from what is durable.
 */
export class IngestChainGuard {
  private readonly committed = new Set<number>();

  /** Null when `after` (0: none) committed here; otherwise the failure to answer with. */
  check(ingestId: number, after: number): WriterFailure | null {
    if (after === 0 || this.committed.has(after)) return null;
    return {
      code: 'QP_ERR_STORE_INGEST_CHAIN',
      message: `ingest ${ingestId} was prepared on top of ingest ${after}, which did not commit; nothing of it was stored (send the batch again)`,
    };
  }

  committedNow(ingestId: number, after: number): void {
    // A chain has one successor per ingest: the predecessor is not needed again.
    this.committed.delete(after);
    this.committed.add(ingestId);
    if (this.committed.size > REMEMBERED_INGESTS) this.committed.delete(this.committed.values().next().value!);
  }

  /** The file was replaced: what committed in the old one is no ground to build on. */
  forget(): void {
    this.committed.clear();
  }
}
