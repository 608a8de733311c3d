/**
 * @module All replays of a Playback node: the live replay (one long-running replay that follows the
 * store feed from a durable cursor) and on-demand replays started through the API. Running replays
 * live in memory; their documents and per-record results go to the results file, where finished
 * replays are read back after a restart.
 */
import type { ReplayDoc, ReplayManagerStatus, ReplayResult } from '../core/documents.js';
import { QProxyError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { uuidv7 } from '../core/uuidv7.js';
import { sideBySide } from './compare/side-by-side.js';
import type { CompareOptions } from './compare/types.js';
import type { ProtocolDriver } from './driver.js';
import type { PlaybackObserver } from './observer.js';
import { resolveRequest, type ReplayDefaults, type ReplayParams, type ReplayRequest, type ReplaysApi, type ResultDetail } from './replay-params.js';
import { ReplayRun, type RunSettings } from './replay-run.js';
import type { ResultsReader } from './results/reader.js';
import { RESULT_STATUSES, type ResultStatus } from './results/result.js';
import type { ResultsThread } from './results/results-thread.js';
import type { SafetyOptions } from './safety.js';
import { LiveTimeline, RecordedTimeline } from './schedule/timeline.js';
import { LiveSource, Watermark } from './source/live-source.js';
import { IdSource, RangeSource } from './source/range-source.js';
import type { PlaybackStore, RecordSource, SourceItem } from './source/store-port.js';
import { ReplaySummary } from './stats/replay-summary.js';

/** Builds the protocol drivers of one replay (comparison rules and safety policy differ per replay). */
export type DriverFactory = (o: { compare: CompareOptions; safety: SafetyOptions; speed: number; live: boolean }) => Partial<
  Record<'http' | 'tcp', ProtocolDriver>
>;

export interface LiveOptions {
  enabled: boolean;
  delayMs: number;
  concurrency: number;
  compare: CompareOptions;
  safety: SafetyOptions;
}

export interface ReplayManagerOptions {
  store: PlaybackStore;
  results: ResultsThread;
  reader: ResultsReader;
  drivers: DriverFactory;
  live: LiveOptions;
  /** What on-demand replays start from (`playback` settings). */
  defaults: ReplayDefaults;
  observer: PlaybackObserver;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** Results older than this are purged (0 = kept); finished on-demand replays beyond `maxReplays` too. */
  retentionMs: number;
  maxReplays: number;
  /** Decoded bodies are bounded to this many bytes when shown side by side (as when compared). */
  maxDecoded: number;
  /** Live feed polling when it is empty; replay documents are saved this often too (×20). */
  pollMs?: number;
  /** Records the live replay passes over (HAR imports); told where the live cursor is. */
  exclusions?: { excludes(id: string): boolean; passed(cursor: number): void };
}

export const LIVE_ID = 'live';
const LIVE_CURSOR_KEY = 'live_cursor';
/** On-demand replays running at once. */
export const MAX_RUNNING = 8;
const PURGE_EVERY_MS = 10 * 60_000;
/** Finished on-demand replays kept in memory (the rest are read from the results file). */
const KEEP_IN_MEMORY = 16;

/** Node-wide totals since start, for `/api/status` `playback`. */
class Totals implements PlaybackObserver {
  readonly summary = new ReplaySummary();
  constructor(private readonly next: PlaybackObserver) {}
  result(protocol: 'http' | 'tcp', status: ResultStatus, kinds: readonly string[]): void {
    this.summary.add(status, { kinds });
    this.next.result(protocol, status, kinds);
  }
  replayed(protocol: 'http' | 'tcp', seconds: number): void {
    this.next.replayed(protocol, seconds);
  }
  lateness(seconds: number): void {
    this.summary.lateness.record(seconds * 1000);
    this.next.lateness(seconds);
  }
  served(protocol: 'http' | 'tcp', outcome: 'hit' | 'miss' | 'forwarded'): void {
    this.next.served(protocol, outcome);
  }
}

export class ReplayManager implements ReplaysApi {
  private readonly runs = new Map<string, ReplayRun>();
  private readonly totals: Totals;
  private live: { run: ReplayRun; watermark: Watermark; source: LiveSource; timeline: LiveTimeline; saved: number } | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly pollMs: number;
  private closed = false;

  constructor(private readonly o: ReplayManagerOptions) {
    this.totals = new Totals(o.observer);
    this.pollMs = o.pollMs ?? 100;
  }

  /** Starts the live replay (when enabled) and the housekeeping timers. */
  start(): void {
    if (this.o.live.enabled) this.startLive();
    // Without a saved cursor a live replay turned on later starts at the store's end: past every import.
    else if (this.o.reader.getMeta(LIVE_CURSOR_KEY) === null) this.o.exclusions?.passed(this.o.store.stats().lastSeq);
    this.timers.push(setInterval(() => this.saveDocs(), this.pollMs * 20).unref());
    this.purge();
    this.timers.push(setInterval(() => this.purge(), PURGE_EVERY_MS).unref());
  }

  create(req: ReplayRequest): ReplayDoc {
    return this.createResolved(resolveRequest(req, this.o.defaults));
  }

  /** Starts an on-demand replay with every parameter given. */
  createResolved(params: ReplayParams): ReplayDoc {
    if (this.closed) throw new QProxyError('QP_ERR_REPLAY_CLOSED', 'the node is shutting down; start the replay after it is back');
    const running = [...this.runs.values()].filter((r) => r.settings.kind === 'on_demand' && r.state === 'running').length;
    if (running >= MAX_RUNNING) {
      throw new QProxyError('QP_ERR_REPLAY_LIMIT', `${running} replays are running already (at most ${MAX_RUNNING}); wait for one to finish or cancel one`);
    }
    const id = uuidv7();
    const source: RecordSource =
      params.ids !== undefined
        ? new IdSource(this.o.store, params.ids)
        : new RangeSource(this.o.store, { start: params.start ?? 0, end: params.end ?? Date.now(), filter: params.filter, limit: params.limit });
    const timeline = new RecordedTimeline({ speed: params.speed, rate: params.rate, maxGapMs: params.maxGapMs });
    const settings: RunSettings = {
      id,
      kind: 'on_demand',
      concurrency: params.concurrency,
      pollMs: this.pollMs,
      params: describeParams(params),
      skipUndriven: true,
    };
    const run = new ReplayRun(settings, source, {
      results: this.o.results,
      drivers: this.o.drivers({ compare: params.compare, safety: params.safety, speed: params.rate > 0 ? 0 : params.speed, live: false }),
      place: (r) => timeline.next(r.started_at),
      observer: this.totals,
      logger: this.o.logger,
    });
    this.runs.set(id, run);
    this.o.logger.info({ replay: id, params: settings.params }, 'replay started');
    void run.start().then(() => this.finished(run));
    this.save(run);
    return run.doc();
  }

  list(limit: number): ReplayDoc[] {
    const docs = new Map<string, ReplayDoc>();
    for (const d of this.o.reader.replays(limit)) docs.set(d.id, d);
    for (const run of this.runs.values()) docs.set(run.id, run.doc());
    return [...docs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, limit);
  }

  get(id: string): ReplayDoc | null {
    return this.runs.get(id)?.doc() ?? this.o.reader.replay(id);
  }

  async remove(id: string): Promise<ReplayDoc | 'deleted' | null> {
    if (id === LIVE_ID) {
      throw new QProxyError('QP_ERR_REPLAY_LIVE', 'the live replay cannot be cancelled or deleted through the API; set playback.live.enabled to false');
    }
    const run = this.runs.get(id);
    if (run?.state === 'running') {
      run.cancel();
      this.o.logger.info({ replay: id }, 'replay cancelled');
      return run.doc();
    }
    if (run === undefined && this.o.reader.replay(id) === null) return null;
    this.runs.delete(id);
    await this.o.results.deleteReplay(id);
    return 'deleted';
  }

  results(id: string, q: { status?: string; limit: number; cursor?: string }): { results: ReplayResult[]; next: string | null } | null {
    if (!this.runs.has(id) && this.o.reader.replay(id) === null) return null;
    const status = q.status as ResultStatus | undefined;
    if (status !== undefined && !RESULT_STATUSES.includes(status)) {
      throw new QProxyError('QP_ERR_BAD_QUERY', `status must be one of ${RESULT_STATUSES.join(', ')}, got ${JSON.stringify(q.status)}`);
    }
    return this.o.reader.results(id, { limit: q.limit, ...(status && { status }), ...(q.cursor !== undefined && { cursor: q.cursor }) });
  }

  result(id: string, recordId: string): ResultDetail | null {
    const run = this.runs.get(id);
    const doc = run?.doc() ?? this.o.reader.replay(id);
    if (doc === null) return null;
    const result = this.o.reader.result(id, recordId);
    if (result === null) return null;
    const compare = doc.params.compare ?? this.o.defaults.compare;
    const record = this.o.store.get(recordId);
    const recorded = record?.protocol === 'http' && record.response !== null ? record.response : null;
    const answer = this.o.reader.answer(id, recordId);
    const replayed = answer && { status: answer.status, headers: answer.headers, body: { data: answer.body, size: answer.size, truncated: answer.truncated } };
    const comparison = recorded !== null && replayed !== null ? sideBySide(recorded, replayed, compare, this.o.maxDecoded) : null;
    return { result, recorded, replayed, comparison, compare };
  }

  /** The `/api/status` `playback` figures (SPEC §7 keys first). */
  status(): ReplayManagerStatus {
    const s = this.totals.summary;
    const rate = s.successRate;
    const live = this.live;
    let inFlight = 0;
    let running = 0;
    for (const r of this.runs.values()) {
      inFlight += r.inFlight;
      if (r.state === 'running' && r.settings.kind === 'on_demand') running++;
    }
    return {
      replayed: s.replayed,
      matched: s.counts.match,
      mismatched: s.counts.mismatch,
      failed: s.counts.failed,
      success_rate: rate === null ? null : Math.round(rate * 10_000) / 10_000,
      skipped: s.counts.skipped,
      dry_run: s.counts.dry_run,
      missing: s.counts.missing,
      in_flight: inFlight,
      lateness_ms: (({ p50, p99, max }) => ({ p50, p99, max }))(s.lateness.summary()),
      live: live
        ? { enabled: true, state: live.run.state, cursor: live.watermark.value, read_position: live.source.position, realigned: live.timeline.realigned }
        : { enabled: false },
      replays_running: running,
    };
  }

  /** Stops every replay (in-flight requests get until the deadline), saves documents and the live cursor. */
  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const runs = [...this.runs.values()];
    await Promise.all(runs.map((r) => r.stop(deadlineMs)));
    for (const r of runs) this.save(r);
    this.saveCursor();
  }

  private startLive(): void {
    const saved = Number(this.o.reader.getMeta(LIVE_CURSOR_KEY) ?? NaN);
    const last = this.o.store.stats().lastSeq;
    let cursor = Number.isInteger(saved) && saved >= 0 ? saved : last;
    if (cursor > last) {
      this.o.logger.warn({ saved: cursor, last }, 'the saved live replay cursor is beyond the store (a new store file?); live replay starts at its end');
      cursor = last;
    }
    const watermark = new Watermark(cursor);
    const source = new LiveSource(this.o.store, cursor);
    const timeline = new LiveTimeline(this.o.live.delayMs);
    const { compare, safety, concurrency, delayMs } = this.o.live;
    const settings: RunSettings = {
      id: LIVE_ID,
      kind: 'live',
      concurrency,
      pollMs: this.pollMs,
      params: { delay_ms: delayMs, concurrency, compare, safety, from_cursor: cursor },
      skipUndriven: false,
    };
    const exclusions = this.o.exclusions;
    const tracked = {
      add(item: SourceItem): void {
        watermark.add(item.seq);
      },
      // An imported record's position counts as done without a replay.
      passOver(item: SourceItem): boolean {
        if (exclusions?.excludes(item.id) !== true) return false;
        watermark.finish(item.seq);
        return true;
      },
    };
    const run = new ReplayRun(settings, trackingSource(source, tracked), {
      results: this.o.results,
      drivers: this.o.drivers({ compare, safety, speed: 1, live: true }),
      place: (r) => timeline.next(r.started_at),
      observer: this.totals,
      finished: (item) => watermark.finish(item.seq),
      logger: this.o.logger,
    });
    this.live = { run, watermark, source, timeline, saved: cursor };
    this.runs.set(LIVE_ID, run);
    this.setCursor(cursor);
    this.o.logger.info({ cursor, delay_ms: delayMs }, 'live replay started');
    void run.start().then(() => this.finished(run));
  }

  private finished(run: ReplayRun): void {
    this.save(run);
    if (run.settings.kind !== 'on_demand') return;
    this.o.logger.info({ replay: run.id, state: run.state, summary: run.summary.toJSON() }, 'replay finished');
    // Finished replays are read back from the results file; only the newest stay in memory.
    const done = [...this.runs.values()].filter((r) => r.settings.kind === 'on_demand' && r.state !== 'running');
    for (const r of done.slice(0, Math.max(0, done.length - KEEP_IN_MEMORY))) this.runs.delete(r.id);
  }

  private saveDocs(): void {
    for (const run of this.runs.values()) if (run.state === 'running') this.save(run);
    this.saveCursor();
  }

  private save(run: ReplayRun): void {
    const doc = run.doc();
    this.o.results.putReplay({
      id: run.id,
      kind: run.settings.kind,
      state: doc.state,
      created_at: run.createdAt,
      finished_at: doc.finished_at === null ? null : Date.parse(doc.finished_at),
      doc: JSON.stringify(doc),
    });
  }

  private saveCursor(): void {
    const live = this.live;
    if (live === null || live.watermark.value === live.saved) return;
    this.setCursor(live.watermark.value);
  }

  private setCursor(value: number): void {
    if (this.live) this.live.saved = value;
    this.o.results.setMeta(LIVE_CURSOR_KEY, String(value));
    const exclusions = this.o.exclusions;
    // Forgotten only once the cursor is on disk: a crash before would replay from the older one.
    if (exclusions) this.o.results.flush().then(() => exclusions.passed(value), () => undefined);
  }

  private purge(): void {
    const before = this.o.retentionMs > 0 ? Date.now() - this.o.retentionMs : 0;
    this.o.results.purge(before, this.o.maxReplays);
  }
}

/** Batches of passed-over records read in one go before the live replay yields to its poll timer. */
const PASS_OVER_READS = 16;

/**
 * Tells `tracker` about every item before the replay sees it (the watermark needs every position),
 * and leaves out those it passes over.
 */
function trackingSource(source: RecordSource, tracker: { add(item: SourceItem): void; passOver(item: SourceItem): boolean }): RecordSource {
  return {
    async next() {
      for (let reads = 0; reads < PASS_OVER_READS; reads++) {
        const items = await source.next();
        if (items === null || items.length === 0) return items;
        for (const it of items) tracker.add(it);
        const kept = items.filter((it) => !tracker.passOver(it));
        if (kept.length > 0) return kept;
      }
      return [];
    },
  };
}

function describeParams(p: ReplayParams): ReplayDoc['params'] {
  const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());
  return {
    ...(p.ids !== undefined ? { ids: p.ids.length } : { start: iso(p.start), end: iso(p.end) }),
    filter: p.filter,
    speed: p.speed,
    rate: p.rate,
    max_gap_ms: p.maxGapMs,
    concurrency: p.concurrency,
    limit: Number.isFinite(p.limit) ? p.limit : null,
    compare: p.compare,
    safety: p.safety,
  };
}
