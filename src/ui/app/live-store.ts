/**
 * The page's memory of /api/status: one sample every two seconds for the last five minutes, turned
 * into rates (requests per second, error rate, bytes per second, replay success) from the deltas of
 * the node's counters, the same counters /metrics exports. Nothing is kept on the server for this.
 */
import { get } from './api';
import type { NodeStatus } from './types';

export const SAMPLE_MS = 2000;
const KEEP = 150; // 5 minutes

export interface Point {
  /** Seconds since the epoch (uPlot's x). */
  t: number;
  rps: number | null;
  tcpPerS: number | null;
  p50: number | null;
  p99: number | null;
  errorPct: number | null;
  bytesPerS: number | null;
  lagMs: number | null;
  backlog: number | null;
  successPct: number | null;
  cpu: number | null;
  rssMiB: number | null;
  heapMiB: number | null;
}

type Listener = (status: NodeStatus | null, error: Error | null) => void;

let last: NodeStatus | null = null;
let lastAt = 0;
let lastError: Error | null = null;
const points: Point[] = [];
const listeners = new Set<Listener>();
let timer: ReturnType<typeof setInterval> | null = null;

function rate(now: number, before: number, dt: number): number | null {
  const d = now - before;
  return dt > 0 && d >= 0 ? d / dt : null;
}

function toPoint(s: NodeStatus, prev: NodeStatus | null, dt: number): Point {
  const p = prev;
  const dReq = p ? s.traffic.http_requests - p.traffic.http_requests : 0;
  const dErr = p ? s.traffic.http_errors - p.traffic.http_errors : 0;
  const dRep = p ? s.playback.replayed - p.playback.replayed : 0;
  const dMatch = p ? s.playback.matched - p.playback.matched : 0;
  const recorded = s.mode === 'Record' ? s.recording.recorded_bytes : s.records.bytes;
  const recordedBefore = p ? (p.mode === 'Record' ? p.recording.recorded_bytes : p.records.bytes) : recorded;
  const pending = 'pending' in s.sync ? s.sync.pending.records : null;
  return {
    t: Date.now() / 1000,
    rps: p ? rate(s.traffic.http_requests, p.traffic.http_requests, dt) : null,
    tcpPerS: p ? rate(s.traffic.tcp_sessions, p.traffic.tcp_sessions, dt) : null,
    p50: s.traffic.latency_ms?.p50 ?? null,
    p99: s.traffic.latency_ms?.p99 ?? null,
    errorPct: p && dReq > 0 && dErr >= 0 ? (dErr / dReq) * 100 : null,
    bytesPerS: p ? rate(recorded, recordedBefore, dt) : null,
    lagMs: 'lag_ms' in s.sync ? s.sync.lag_ms : null,
    backlog: typeof pending === 'number' ? pending : null,
    successPct: p && dRep > 0 && dMatch >= 0 ? (dMatch / dRep) * 100 : null,
    cpu: s.resources.cpu_percent,
    rssMiB: s.resources.rss_bytes / 1048576,
    heapMiB: s.resources.heap_used_bytes / 1048576,
  };
}

async function sample(): Promise<void> {
  try {
    const s = await get<NodeStatus>('/api/status');
    const at = performance.now();
    points.push(toPoint(s, last, last === null ? 0 : (at - lastAt) / 1000));
    if (points.length > KEEP) points.splice(0, points.length - KEEP);
    last = s;
    lastAt = at;
    lastError = null;
  } catch (e) {
    lastError = e as Error;
  }
  for (const l of listeners) l(last, lastError);
}

/** Starts sampling (once); every listener hears each new sample. */
export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  if (timer === null) {
    void sample();
    timer = setInterval(() => void sample(), SAMPLE_MS);
  }
  listener(last, lastError);
  return () => listeners.delete(listener);
}

/** Stops sampling and forgets everything (logout). */
export function reset(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  last = null;
  points.length = 0;
}

export function history(): readonly Point[] {
  return points;
}
