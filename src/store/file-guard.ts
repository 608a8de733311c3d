import { errorMessage } from '../core/errors.js';
import { inspectFiles, storeFiles, type FileProblem, type StoreFiles } from './file-watch.js';
import type { StoreHealth, StoreLogger, StoreObserver } from './types.js';
import type { ReopenOutcome } from './writer-protocol.js';

/** How often the files are looked at unless the options say otherwise. */
export const FILE_CHECK_INTERVAL_MS = 2_000;

export interface FileGuardDeps {
  path: string;
  intervalMs: number;
  /** Runs the checks instead of the timer (StoreOptions.fileCheckRunner). */
  runner?: ((check: () => Promise<void>) => void) | undefined;
  logger: StoreLogger;
  observer: StoreObserver | undefined;
  /** The sync floor (see StoreOptions.purgeFloor): lost records above it were never sent. */
  floor(): number;
  /** Closes the main thread's connection: the writer's must be the last one on the old file. */
  detachReader(): void;
  /** Opens the main thread's connection on the file at the path; throws when it cannot. */
  attachReader(): void;
  reopen(lostFile: boolean, floor: number): Promise<ReopenOutcome>;
}

const REASONS: Record<FileProblem, string> = {
  db_gone: 'the store file was deleted or moved away while open',
  db_replaced: 'another file was put at the store path while the store was open',
  wal_gone: 'the store WAL file was deleted while open',
};

/**
 * Notices when the store's files are deleted or replaced under it (issue 17: an `rm` of the
 * database went unnoticed, records kept going into the deleted inode and were gone at the next
 * start) and recovers, fail-open:
 *
 * - file deleted → a fresh file at the same path, carrying the old one's meta (sync cursors and
 *   ledgers, the redaction key) and continuing its seqs, so sync cursors keep their meaning; what
 *   the old file held is counted as lost (metric, log, meta `store.lost.*`, and in
 *   `sync.purged_unsent.*` for what sync had not sent);
 * - WAL deleted → the path is reopened (nothing is lost: the database file is still linked);
 * - another file put at the path → not touched: the store stays unhealthy (and keeps writing to
 *   the file it has open) until that file is moved away or QProxy restarts.
 *
 * While a problem lasts `health()` says so, which turns /readyz and `qproxy_store_healthy` red.
 */
export class FileGuard {
  private files: StoreFiles = { db: null, wal: null };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private problem: FileProblem | null = null;
  private readerDetached = false;
  private stopped = false;
  private reopened = 0;
  private lostRecords = 0;
  private lostBytes = 0;

  constructor(private readonly d: FileGuardDeps) {}

  /** Notes the files as they are now and starts looking at them every interval. */
  async start(): Promise<void> {
    this.files = await storeFiles(this.d.path);
    if (this.d.runner) this.d.runner(() => this.check());
    else this.timer = setInterval(() => void this.check(), this.d.intervalMs).unref();
  }

  /** Stops the timer and waits for a check (and recovery) in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  health(): StoreHealth {
    return {
      healthy: this.problem === null && !this.readerDetached,
      problem: this.problem ? REASONS[this.problem] : this.readerDetached ? 'the store is being reopened' : null,
      reopened: this.reopened,
      lost_records: this.lostRecords,
      lost_bytes: this.lostBytes,
    };
  }

  /** One look at the files (and a recovery when needed); a look already running is not doubled. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.look().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async look(): Promise<void> {
    try {
      if (this.readerDetached) {
        // A recovery that failed: the writer restarts on its own and opens whatever is at the path.
        this.reattach();
        if (this.readerDetached) return;
        this.files = await storeFiles(this.d.path);
      }
      const { problem, files } = await inspectFiles(this.d.path, this.files);
      this.files = files;
      if (problem === null) {
        if (this.problem !== null && !this.readerDetached) this.recovered();
        return;
      }
      if (this.stopped) return;
      if (problem !== this.problem) this.report(problem);
      this.problem = problem;
      if (problem !== 'db_replaced') await this.recover(problem === 'db_gone');
    } catch (err) {
      this.d.logger.warn({ err: errorMessage(err), path: this.d.path }, 'store file check failed; it runs again next interval');
    }
  }

  private report(problem: FileProblem): void {
    const path = this.d.path;
    if (problem === 'db_gone') {
      this.d.logger.error(
        { path },
        `${REASONS[problem]}: records written to it would be lost at the next start; starting a fresh store at ${path} (what the old file held is counted as lost)`,
      );
    } else if (problem === 'db_replaced') {
      this.d.logger.error(
        { path },
        `${REASONS[problem]}: QProxy keeps writing to the file it opened, which is no longer reachable and will be lost at the next start; move the other file away (a fresh store is then started at ${path}) or restart QProxy to use it`,
      );
    } else {
      this.d.logger.error({ path }, `${REASONS[problem]}: reopening the store so that commits reach a file on disk again (nothing is lost)`);
    }
  }

  private async recover(lostFile: boolean): Promise<void> {
    let floor = Number.POSITIVE_INFINITY;
    try {
      floor = this.d.floor();
    } catch {
      floor = 0; // unknown: count every lost record as unsent rather than none
    }
    this.d.detachReader();
    this.readerDetached = true;
    let outcome: ReopenOutcome;
    try {
      outcome = await this.d.reopen(lostFile, floor);
    } catch (err) {
      this.d.logger.error({ err: errorMessage(err), path: this.d.path }, 'store could not be reopened; it is tried again next interval');
      this.reattach();
      return;
    }
    this.reopened++;
    const lost = outcome.lost;
    if (lost) {
      this.lostRecords += lost.count;
      this.lostBytes += lost.bytes;
      this.notify(lost.count, lost.bytes);
    }
    this.reattach();
    this.files = await storeFiles(this.d.path);
    if (!this.readerDetached) this.recovered(lost);
  }

  private reattach(): void {
    if (this.stopped && this.readerDetached) return;
    try {
      this.d.attachReader();
      this.readerDetached = false;
    } catch (err) {
      this.d.logger.warn({ err: errorMessage(err), path: this.d.path }, 'store reader could not be reopened; reads fail until the next check reopens it');
    }
  }

  private recovered(lost?: ReopenOutcome['lost']): void {
    this.problem = null;
    this.d.logger.info(
      { path: this.d.path, ...(lost && { lost_records: lost.count, lost_bytes: lost.bytes, lost_unsent_records: lost.unsent.count }) },
      'store files are healthy again; recording continues',
    );
  }

  private notify(count: number, bytes: number): void {
    try {
      this.d.observer?.lost?.(count, bytes);
    } catch (err) {
      this.d.logger.error({ err }, 'store observer threw; ignored');
    }
  }
}
