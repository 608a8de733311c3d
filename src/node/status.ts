import type { AddressInfo } from 'node:net';
import type { DiscoveryStatus, PlaybackStatus, StatusDoc, StorageStatus, SyncStatus } from '../core/documents.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StoreHealth, StoreStats } from '../store/index.js';

export interface StatusInput {
  mode: 'Record' | 'Playback';
  nodeId: string;
  version: string;
  startedAt: number;
  draining: boolean;
  store: StoreStats;
  storeHealth: StoreHealth;
  metrics: Metrics;
  inFlight: number;
  listeners: { api: AddressInfo; http: AddressInfo | null; tcp: AddressInfo | null; sync: AddressInfo | null; forward: AddressInfo | null } | null;
  recordingEnabled: boolean;
  sync: SyncStatus | null;
  playback: PlaybackStatus | null;
  discovery: DiscoveryStatus;
  /** A forward listener is configured: its figures go in `forward`. */
  forward: boolean;
}

const NO_PLAYBACK: PlaybackStatus = { replayed: 0, matched: 0, mismatched: 0, failed: 0, success_rate: null };

function storage(h: StoreHealth): StorageStatus {
  return { healthy: h.healthy, problem: h.problem, reopened: h.reopened, lost_records: h.lost_records, lost_bytes: h.lost_bytes };
}

/** The `/api/status` document (SPEC §7). It reads the same figures that `/metrics` exports. */
export function buildStatus(s: StatusInput): StatusDoc {
  const totals = s.metrics.totals();
  const tcp = s.metrics.tcpTotals();
  const addr = (a: AddressInfo | null | undefined): string | null => (a ? `${a.address}:${a.port}` : null);
  return {
    mode: s.mode,
    node_id: s.nodeId,
    version: s.version,
    uptime_s: Math.round((Date.now() - s.startedAt) / 1000),
    state: s.draining ? 'draining' : 'running',
    records: { count: s.store.count, bytes: s.store.bytes, queue_depth: s.store.queueDepth, last_seq: s.store.lastSeq },
    storage: storage(s.storeHealth),
    resources: s.metrics.resources(),
    traffic: {
      http_requests: totals.requests,
      http_errors: totals.errors,
      tcp_sessions: tcp.sessions,
      tcp_active: tcp.active,
      in_flight: s.inFlight,
      latency_ms: s.metrics.recentLatency(),
    },
    recording: {
      enabled: s.recordingEnabled,
      recorded: totals.recorded,
      recorded_bytes: totals.recorded_bytes,
      dropped: totals.dropped,
      dropped_by_reason: totals.dropped_by_reason,
      skipped: totals.skipped,
      skipped_by_reason: totals.skipped_by_reason,
    },
    listeners: s.listeners && {
      api: addr(s.listeners.api),
      http: addr(s.listeners.http),
      tcp: addr(s.listeners.tcp),
      sync: addr(s.listeners.sync),
      forward: addr(s.listeners.forward),
    },
    forward: s.forward ? s.metrics.forward.figures() : null,
    discovery: s.discovery,
    sync: s.sync ?? { enabled: false },
    playback: s.playback ?? NO_PLAYBACK,
  };
}
