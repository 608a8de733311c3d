import type { SideBySide } from './compare/side-by-side.js';
import type { CompareOptions, ResponseSide } from './compare/types.js';
import type { ReplayDoc, ReplayResult } from '../core/documents.js';
import type { SafetyOptions } from './safety.js';
import type { RecordFilter } from './source/record-filter.js';

/** A validated on-demand replay request (the API parses `POST /api/replays` into it). */
export interface ReplayParams {
  /** Epoch ms, inclusive; default: the oldest record. */
  start?: number;
  /** Epoch ms, exclusive; default: when the replay is created. */
  end?: number;
  /** Replay exactly these records instead of a time range. */
  ids?: string[];
  filter: RecordFilter;
  /** 1 = recorded timing, 2 = twice as fast, 0 = as fast as possible. */
  speed: number;
  /** Fixed requests per second instead of the recorded timing; 0 = off. */
  rate: number;
  maxGapMs: number;
  concurrency: number;
  /** Most records taken from the range; Infinity for all. */
  limit: number;
  compare: CompareOptions;
  safety: SafetyOptions;
}

/**
 * An on-demand replay as asked for through the API (`POST /api/replays`), already checked for
 * shape; absent fields take the node's `playback` settings. `compare.ignore` lists are added to the
 * configured ones, `safety.rules` are checked before the configured rules.
 */
export interface ReplayRequest {
  start?: number;
  end?: number;
  ids?: string[];
  filter: RecordFilter;
  speed?: number;
  rate?: number;
  maxGapMs?: number;
  concurrency?: number;
  limit?: number;
  compare?: Partial<Omit<CompareOptions, 'ignore'>> & { ignore?: Partial<CompareOptions['ignore']> };
  safety?: Partial<SafetyOptions>;
}

/** The node's settings an on-demand replay starts from. */
export interface ReplayDefaults {
  speed: number;
  rate: number;
  maxGapMs: number;
  concurrency: number;
  compare: CompareOptions;
  safety: SafetyOptions;
}

/** Applies the node's settings to a request. */
export function resolveRequest(req: ReplayRequest, d: ReplayDefaults): ReplayParams {
  const c = req.compare ?? {};
  const ignore = c.ignore ?? {};
  const s = req.safety ?? {};
  return {
    ...(req.start !== undefined && { start: req.start }),
    ...(req.end !== undefined && { end: req.end }),
    ...(req.ids !== undefined && { ids: req.ids }),
    filter: req.filter,
    speed: req.speed ?? d.speed,
    rate: req.rate ?? d.rate,
    maxGapMs: req.maxGapMs ?? d.maxGapMs,
    concurrency: req.concurrency ?? d.concurrency,
    limit: req.limit ?? Infinity,
    compare: {
      status: c.status ?? d.compare.status,
      headers: c.headers ?? d.compare.headers,
      body: c.body ?? d.compare.body,
      truncated: c.truncated ?? d.compare.truncated,
      ignore: {
        headers: [...d.compare.ignore.headers, ...(ignore.headers ?? [])],
        json_paths: [...d.compare.ignore.json_paths, ...(ignore.json_paths ?? [])],
        patterns: [...d.compare.ignore.patterns, ...(ignore.patterns ?? [])],
      },
    },
    safety: {
      rules: [...(s.rules ?? []), ...d.safety.rules],
      safe_methods: s.safe_methods ?? d.safety.safe_methods,
      unsafe_methods: s.unsafe_methods ?? d.safety.unsafe_methods,
    },
  };
}

/** One record's result with both answers, for the side-by-side view (`GET /api/replays/{id}/results/{record_id}`). */
export interface ResultDetail {
  result: ReplayResult;
  /** The recorded response; null for TCP sessions, records without a response, or records no longer stored. */
  recorded: ResponseSide | null;
  /** The replayed response, kept for mismatches only; null otherwise. */
  replayed: ResponseSide | null;
  /** Both answers field by field under the replay's rules; null unless both answers are there. */
  comparison: SideBySide | null;
  /** The comparison rules the replay applied. */
  compare: CompareOptions;
}

/** How a replay is listed, read and cancelled, as the API sees it. */
export interface ReplaysApi {
  /** Starts an on-demand replay. Throws QProxyError QP_ERR_REPLAY_LIMIT when too many are running. */
  create(req: ReplayRequest): ReplayDoc;
  list(limit: number): ReplayDoc[];
  get(id: string): ReplayDoc | null;
  /**
   * Cancels a running replay (returns its document), or deletes a finished one with its results
   * ("deleted"); null when there is none. Throws QP_ERR_REPLAY_LIVE for the live replay.
   */
  remove(id: string): Promise<ReplayDoc | 'deleted' | null>;
  /** One page of a replay's per-record results; null when there is no such replay. */
  results(id: string, q: { status?: string; limit: number; cursor?: string }): { results: ReplayResult[]; next: string | null } | null;
  /** One record's result in a replay with both answers; null when the replay has no result for it. */
  result(id: string, recordId: string): ResultDetail | null;
}
