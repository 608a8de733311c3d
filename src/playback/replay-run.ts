/**
 * @module One replay, live or on demand: reads records from its source, lets the protocol drivers
 * decide what to do with each, schedules the jobs, and turns outcomes into stored results and a
 * running summary.
 *
 *   source ─▶ driver.prepare ─▶ scheduler (timing, concurrency, connection order) ─▶ job.run
 *                 │ skipped / dry_run / missing                                        │ answer
 *                 ▼                                                                    ▼
 *              result ◀──────────────────────── results thread (compare + store) ◀───┘
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises';
import type { ReplayDoc, ReplayState } from '../core/documents.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { QRecord } from '../recording/model.js';
import type { JobOutcome, PreparedJob, ProtocolDriver, RecordFacts } from './driver.js';
import type { PlaybackObserver } from './observer.js';
import type { ReplayResult, ResultBase, ResultStatus } from './results/result.js';
import type { ResultsThread } from './results/results-thread.js';
import { Scheduler } from './schedule/scheduler.js';
import type { RecordSource, SourceItem } from './source/store-port.js';
import { endpointKey } from './stats/endpoint-key.js';
import { ReplaySummary } from './stats/replay-summary.js';

/** Fixed settings of one replay. */
export interface RunSettings {
  id: string;
  kind: 'live' | 'on_demand';
  concurrency: number;
  /** Live: how often an empty feed is polled again. */
  pollMs: number;
  /** Shown in the replay document as given (filters, speed, …). */
  params: ReplayDoc['params'];
  /** Records of a protocol without a driver: counted as skipped (on demand) or ignored (live). */
  skipUndriven: boolean;
}

export interface RunDeps {
  results: ResultsThread;
  drivers: Partial<Record<'http' | 'tcp', ProtocolDriver>>;
  /** Due time (monotonic ms, -Infinity = now) of a record, called in source order. */
  place(record: QRecord): number;
  observer: PlaybackObserver;
  /** Called once per source item whose handling is complete (live: advances the durable cursor). */
  finished?(item: SourceItem): void;
  logger: Pick<Logger, 'warn'>;
}

/** Jobs waiting in the scheduler before the source is read further. */
const MAX_QUEUED = 4_096;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** Comparisons the results thread may have pending before new jobs wait for it. */
const MAX_COMPARING = 2_048;
/** Timed replays read records at most this far ahead of their due time (keeps memory and GC low). */
const READ_AHEAD_MS = 1_000;
/**
 * Reading records (SQLite, decoding) is synchronous: the feed yields to the event loop after this
 * much work, so replies of requests in flight are not held up behind a long read.
 */
const FEED_SLICE_MS = 4;

interface Payload {
  item: SourceItem;
  record: QRecord;
  facts: RecordFacts;
  job: PreparedJob;
  driver: ProtocolDriver;
}

export class ReplayRun {
  readonly summary = new ReplaySummary();
  readonly createdAt = Date.now();
  private finishedAt: number | null = null;
  private stateNow: ReplayState = 'running';
  private errorText: string | null = null;
  private readonly scheduler: Scheduler<Payload>;
  private readonly abort = new AbortController();
  private readonly comparing = new Set<Promise<void>>();
  private read = 0;
  private stopFeeding = false;
  private roomWaiter: (() => void) | null = null;
  /** Due time of the last job admitted (monotonic ms). */
  private lastDue = -Infinity;
  private loop: Promise<void> | null = null;

  constructor(
    readonly settings: RunSettings,
    private readonly source: RecordSource,
    private readonly deps: RunDeps,
  ) {
    // Every request in flight listens on the one abort signal; their number is bounded by concurrency.
    setMaxListeners(settings.concurrency + 16, this.abort.signal);
    this.scheduler = new Scheduler<Payload>({
      concurrency: settings.concurrency,
      run: (p, lateness) => this.execute(p, lateness),
      gate: () => this.comparing.size < MAX_COMPARING,
    });
  }

  get id(): string {
    return this.settings.id;
  }

  get state(): ReplayState {
    return this.stateNow;
  }

  /** Requests (sessions) in flight at the target now. */
  get inFlight(): number {
    return this.scheduler.inFlight;
  }

  /** Starts reading and replaying; `done` settles when the replay has ended. */
  start(): Promise<void> {
    this.loop ??= this.runLoop();
    return this.loop;
  }

  /** Resolves when the replay has ended (any state). */
  get done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Stops reading, drops queued jobs and aborts those in flight; the state becomes "cancelled". */
  cancel(): void {
    if (this.stateNow !== 'running') return;
    this.stateNow = 'cancelled';
    this.halt();
    this.abort.abort();
  }

  /**
   * Graceful stop for shutdown: no new jobs, those in flight get until `deadlineMs`, then they are
   * aborted. Queued jobs are dropped (live replay reads them again after a restart).
   */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stateNow === 'running') this.stateNow = 'cancelled';
    this.halt();
    const timer = setTimeout(() => this.abort.abort(), Math.max(0, deadlineMs));
    timer.unref();
    await this.done;
    clearTimeout(timer);
  }

  doc(): ReplayDoc {
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
    return {
      id: this.id,
      kind: this.settings.kind,
      state: this.stateNow,
      created_at: new Date(this.createdAt).toISOString(),
      finished_at: iso(this.finishedAt),
      error: this.errorText,
      params: this.settings.params,
      progress: {
        read: this.read,
        queued: this.scheduler.queued,
        in_flight: this.scheduler.inFlight,
        max_in_flight: this.scheduler.maxInFlight,
        comparing: this.comparing.size,
      },
      summary: this.summary.toJSON(),
    };
  }

  private halt(): void {
    this.stopFeeding = true;
    this.scheduler.clear();
    this.roomWaiter?.();
  }

  private async runLoop(): Promise<void> {
    try {
      await this.feed();
      await this.scheduler.idle();
      while (this.comparing.size > 0) await Promise.all([...this.comparing]);
      if (this.stateNow === 'running') this.stateNow = 'done';
    } catch (err) {
      this.stateNow = 'failed';
      this.errorText = errorMessage(err);
      this.halt();
      this.abort.abort();
      await this.scheduler.idle();
      await Promise.allSettled([...this.comparing]);
    }
    this.finishedAt = Date.now();
  }

  private async feed(): Promise<void> {
    let slice = performance.now();
    while (!this.stopFeeding) {
      await this.room();
      if (this.stopFeeding) return;
      if (performance.now() - slice > FEED_SLICE_MS) {
        await yieldTurn();
        slice = performance.now();
      }
      const items = await this.source.next();
      if (items === null) return;
      if (items.length === 0) {
        await sleep(this.settings.pollMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        continue;
      }
      for (const item of items) {
        this.read++;
        this.admit(item);
      }
    }
  }

  /**
   * Waits while the scheduler holds enough (memory stays bounded whatever the source holds) or,
   * for timed replays, while what it holds reaches far enough ahead.
   */
  private async room(): Promise<void> {
    while (!this.stopFeeding && this.full()) {
      await new Promise<void>((resolve) => (this.roomWaiter = resolve));
      this.roomWaiter = null;
    }
  }

  private full(): boolean {
    const s = this.scheduler;
    if (s.queued === 0) return false;
    return s.queued >= MAX_QUEUED || s.queuedBytes >= MAX_QUEUED_BYTES || this.lastDue - performance.now() > READ_AHEAD_MS;
  }

  private admit(item: SourceItem): void {
    const record = item.record;
    if (record === null) {
      return this.decide(item, null, 'missing', `record ${item.id} is no longer in the store (deleted or purged by retention)`);
    }
    const driver = this.deps.drivers[record.protocol];
    if (driver === undefined) {
      if (!this.settings.skipUndriven) return this.deps.finished?.(item);
      return this.decide(item, record, 'skipped', `no ${record.protocol}.downstream is configured to replay ${record.protocol} records to`);
    }
    const prep = driver.prepare(record);
    if (prep.kind === 'ignore') return this.deps.finished?.(item);
    if (prep.kind !== 'job') return this.decide(item, record, prep.kind, prep.reason, driver.facts(record));
    const payload: Payload = { item, record, facts: driver.facts(record), job: prep.job, driver };
    const due = this.deps.place(record);
    this.lastDue = due;
    this.scheduler.push({ due, lane: prep.job.lane, serial: prep.job.serial, payload, bytes: prep.job.bytes });
  }

  /** A result decided without replaying (missing, skipped, dry run). */
  private decide(item: SourceItem, record: QRecord | null, status: ResultStatus, reason: string, facts?: RecordFacts): void {
    const base = this.base(item, record, facts ?? null, null);
    this.store({ ...base, status, truncated: false, kinds: [], diff: null, error: reason }, item);
  }

  private async execute(p: Payload, lateness: number | null): Promise<void> {
    this.roomWaiter?.();
    if (lateness !== null) {
      this.summary.lateness.record(lateness);
      this.deps.observer.lateness(lateness / 1000);
    }
    let out: JobOutcome;
    try {
      out = await p.job.run(this.abort.signal);
    } catch (err) {
      out = { ok: false, error: { code: 'QP_ERR_REPLAY_INTERNAL', message: errorMessage(err) }, seconds: 0 };
    }
    this.deps.observer.replayed(p.driver.protocol, out.seconds);
    // Aborted by cancel or shutdown: no verdict (live replay sends it again after a restart).
    if (!out.ok && out.error.code === 'QP_ERR_REPLAY_CANCELLED') return;
    const base = this.base(p.item, p.record, p.facts, lateness);
    if (!out.ok) {
      this.store({ ...base, status: 'failed', truncated: false, kinds: [], diff: null, error: `${out.error.code}: ${out.error.message}` }, p.item);
      return;
    }
    this.summary.latency(p.facts.recorded_ms, out.replayedMs);
    const full: ResultBase = { ...base, replayed_status: out.replayedStatus, replayed_ms: round(out.replayedMs) };
    const endpoint = endpointKey(p.record.protocol, base.method, base.target);
    const pending = out.compare(full).then(
      (c) => this.count(p.item, p.record.protocol, c.match ? 'match' : 'mismatch', { kinds: c.kinds, truncated: c.truncated, errorCode: null, endpoint }),
      (err: unknown) => this.deps.logger.warn({ err, record: p.record.id }, 'replay comparison was lost with the results thread'),
    );
    this.comparing.add(pending);
    void pending.finally(() => {
      this.comparing.delete(pending);
      this.scheduler.poke();
    });
  }

  private base(item: SourceItem, record: QRecord | null, facts: RecordFacts | null, lateness: number | null): ResultBase {
    return {
      replay_id: this.id,
      record_id: item.id,
      protocol: record?.protocol ?? 'http',
      method: facts?.method ?? null,
      target: facts?.target ?? null,
      recorded_status: facts?.recorded_status ?? null,
      replayed_status: null,
      recorded_ms: facts?.recorded_ms ?? null,
      replayed_ms: null,
      lateness_ms: lateness === null ? null : round(lateness),
      error: null,
      at: Date.now(),
    };
  }

  private store(result: ReplayResult, item: SourceItem): void {
    this.deps.results.put(result);
    const code = result.error?.startsWith('QP_ERR_') ? result.error.slice(0, result.error.indexOf(':')) : null;
    this.count(item, result.protocol, result.status, {
      kinds: [],
      truncated: false,
      errorCode: result.status === 'failed' ? code : null,
      endpoint: endpointKey(result.protocol, result.method, result.target),
    });
  }

  private count(
    item: SourceItem,
    protocol: 'http' | 'tcp',
    status: ResultStatus,
    r: { kinds: readonly string[]; truncated: boolean; errorCode: string | null; endpoint: string },
  ): void {
    this.summary.add(status, r);
    this.deps.observer.result(protocol, status, r.kinds);
    this.deps.finished?.(item);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
