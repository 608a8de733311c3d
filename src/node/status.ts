import type { AddressInfo } from 'node:net';
import type { Metrics } from '../metrics/metrics.js';

export interface StatusInput {
  mode: 'Record' | 'Playback';
  nodeId: string;
  version: string;
  startedAt: number;
  draining: boolean;
  store: { count: number; bytes: number; queueDepth: number; lastSeq: number };
  metrics: Metrics;
  inFlight: number;
  listeners: { http: AddressInfo | null; api: AddressInfo } | null;
  recordingEnabled: boolean;
}

/** The `/api/status` document (SPEC §7). It reads the same figures that `/metrics` exports. */
export function buildStatus(s: StatusInput): object {
  const totals = s.metrics.totals();
  return {
    mode: s.mode,
    node_id: s.nodeId,
    version: s.version,
    uptime_s: Math.round((Date.now() - s.startedAt) / 1000),
    state: s.draining ? 'draining' : 'running',
    records: { count: s.store.count, bytes: s.store.bytes, queue_depth: s.store.queueDepth, last_seq: s.store.lastSeq },
    resources: s.metrics.resources(),
    traffic: {
      requests: totals.requests,
      errors: totals.errors,
      in_flight: s.inFlight,
    },
    recording: {
      enabled: s.recordingEnabled,
      recorded: totals.recorded,
      recorded_bytes: totals.recorded_bytes,
      dropped: totals.dropped,
      dropped_by_reason: totals.dropped_by_reason,
    },
    listeners: s.listeners && {
      http: s.listeners.http && `${s.listeners.http.address}:${s.listeners.http.port}`,
      api: `${s.listeners.api.address}:${s.listeners.api.port}`,
    },
    // Sync and playback arrive with later releases; the sections keep their SPEC shape meanwhile.
    sync: { enabled: false },
    playback: { replayed: 0, matched: 0, mismatched: 0, failed: 0, success_rate: null },
  };
}
