/**
 * The JSON documents of the HTTP API that other programs read: `/api/status` with its sections, and
 * the replay documents (`/api/replays`, `/api/replays/{id}`, `…/results`). The API serves them, the
 * CLI and the web UI read them, and the components that produce a section type it with these.
 * Field names are snake_case because this is the wire shape (README "HTTP API", SPEC §7); the
 * components keep their own camelCase state and map to these at the edge. Types only, no imports:
 * the web UI's bundle reads this file too.
 *
 * @module
 */

// ── /api/status ────────────────────────────────────────────────────────────────────────────────

/** The `/api/status` document. */
export interface StatusDoc {
  mode: 'Record' | 'Playback';
  node_id: string;
  version: string;
  uptime_s: number;
  state: 'running' | 'draining';
  records: RecordsStatus;
  storage: StorageStatus;
  resources: ResourcesStatus;
  traffic: TrafficStatus;
  recording: RecordingStatus;
  /** Bound addresses ("host:port"); null before the node has started listening. */
  listeners: ListenersStatus | null;
  /** Null without a forward listener. */
  forward: ForwardStatus | null;
  discovery: DiscoveryStatus;
  sync: SyncStatus;
  playback: PlaybackStatus;
}

export interface RecordsStatus {
  count: number;
  bytes: number;
  /** Records accepted and not yet committed or dropped. */
  queue_depth: number;
  /** Highest seq ever assigned. */
  last_seq: number;
}

/** Whether the store writes to the file at its path. */
export interface StorageStatus {
  healthy: boolean;
  /** What is wrong, for people; null when healthy. */
  problem: string | null;
  /** Times the store file was reopened after a problem, since start. */
  reopened: number;
  /** Records (and stored bytes) lost with deleted store files, since start. */
  lost_records: number;
  lost_bytes: number;
}

export interface ResourcesStatus {
  /** Process CPU over the last ~5 s (or since the previous call), 0..100 × cores. */
  cpu_percent: number;
  rss_bytes: number;
  heap_used_bytes: number;
  /** Bytes received from clients, all proxy protocols. */
  net_rx_bytes: number;
  /** Bytes sent to clients, all proxy protocols. */
  net_tx_bytes: number;
}

/** Latency percentiles over the last seconds (the same buckets as the Prometheus histogram). */
export interface LatencyWindow {
  p50: number | null;
  p99: number | null;
  count: number;
  window_s: number;
}

export interface TrafficStatus {
  http_requests: number;
  http_errors: number;
  tcp_sessions: number;
  tcp_active: number;
  in_flight: number;
  latency_ms: LatencyWindow;
}

export interface RecordingStatus {
  enabled: boolean;
  /** Records durably stored. */
  recorded: number;
  recorded_bytes: number;
  /** Records lost by the recorder or the store. */
  dropped: number;
  dropped_by_reason: Record<string, number>;
  /** Exchanges and sessions the recording rules left out (include / exclude / sample). */
  skipped: number;
  skipped_by_reason: Record<string, number>;
}

export interface ListenersStatus {
  api: string | null;
  http: string | null;
  tcp: string | null;
  sync: string | null;
  forward: string | null;
}

export interface ForwardStatus {
  intercepted: number;
  tunnelled: number;
  denied: number;
  handshake_failures: number;
  certificates_minted: number;
  certificate_cache: number;
}

export interface DiscoveryStatus {
  http: ListenerEndpoints | null;
  tcp: ListenerEndpoints | null;
}

/** The downstream endpoints of one listener. */
export interface ListenerEndpoints {
  /** No endpoint is available, so every live one is a candidate. */
  panic: boolean;
  endpoints: EndpointStatus[];
}

export interface EndpointStatus {
  endpoint: string;
  target: string;
  /** Verdict of active health checks (true when none are configured). */
  healthy: boolean;
  /** ISO 8601 end of the current passive ejection, or null. */
  ejected_until: string | null;
  active: number;
  consecutive_failures: number;
  total_failures: number;
  /** `ejected` wins over `unhealthy`; both take the endpoint out of rotation unless in panic. */
  state: 'healthy' | 'unhealthy' | 'ejected';
  /** Gone from DNS, kept until its in-flight uses end; never picked. */
  retiring: boolean;
}

// ── /api/status sync ───────────────────────────────────────────────────────────────────────────

/** The `sync` section: whichever side and backend the node runs, or `{ enabled: false }`. */
export type SyncStatus = SenderStatus | PublisherStatus | ReceiverStatus | ConsumerStatus | { enabled: false };

/** A failure as the status shows it. */
export interface SyncErrorStatus {
  code: string;
  message: string;
  at: string;
}

/**
 * The keys every sync backend's Record node reports, so scripts and dashboards read the peer
 * sender and the NATS publisher alike.
 */
export interface SenderStatusCommon {
  role: 'sender';
  state: 'connected' | 'connecting' | 'backoff' | 'stopped';
  connected: boolean;
  last_success_at: string | null;
  /** `reason` is one of the `qproxy_sync_failures_total` reasons (docs/metrics.md). */
  last_error: (SyncErrorStatus & { reason: string; attempts: number }) | null;
  next_retry_at: string | null;
  /** Every record up to this store seq is acknowledged by the other side (peer or stream). */
  cursor: number;
  /** Highest seq the store has handed out. */
  last_seq: number;
  pending: { records: number; bytes: number };
  /** Acknowledgement time minus record time of the newest record acknowledged last. */
  lag_ms: number | null;
  /** How far behind sync is: now minus the time of the oldest record not yet acknowledged (0 when caught up). */
  behind_ms: number;
  /**
   * The Record node's half of the loss ledger. `proxied`, `recorded`, `dropped` count since this
   * process started; `purged_unsent`, `sent` (and the peer's `refused_by_peer`) are kept in the
   * store (since it was created). Compare `sent` with the Playback node's ledger entry for this node_id.
   */
  ledger: {
    node_id: string;
    proxied: number | null;
    recorded: number | null;
    dropped: Record<string, number> | null;
    purged_unsent: { records: number; bytes: number };
    sent: number;
    sent_bytes: number;
    pending: number;
  };
}

/** A Record node on the peer sync (HTTP/2). */
export interface SenderStatus extends SenderStatusCommon {
  peer: string;
  tls: boolean;
  mutual_tls: boolean;
  compression: 'gzip' | 'br' | 'none';
  in_flight: { batches: number; records: number };
  /** Since start. */
  sent: { batches: number; records: number; raw_bytes: number; wire_bytes: number };
  ledger: SenderStatusCommon['ledger'] & { refused_by_peer: number };
}

/** A Record node publishing to NATS (the peer sender's keys, plus the backend's). */
export interface PublisherStatus extends SenderStatusCommon {
  backend: 'nats';
  servers: string;
  /** "host:port" of the server connected to (or last connected to). */
  server: string | null;
  stream: string;
  subject_prefix: string;
  in_flight: { messages: number };
  /** Since start. `duplicates`: re-sends the stream's duplicate window dropped. */
  sent: { messages: number; records: number; raw_bytes: number; wire_bytes: number; duplicates: number; split: number };
}

/** What a Playback node received from one origin node_id (persisted). */
export interface NodeLedger {
  received: number;
  stored: number;
  duplicates: number;
  rejected: Record<string, number>;
  /** Highest seq of the sender's store seen in a stored batch: with the sender's cursor, shows what is in flight. */
  last_seq: number;
  last_received_at: string | null;
}

/** Why a listener that guards its connections refused or closed one. */
export type GateRefusal = 'max_connections' | 'per_address' | 'fd_limit' | 'auth_timeout';

/** One sender connected to the peer receiver. */
export interface PeerStatus {
  address: string;
  identity: string[];
  connected: boolean;
  batches: number;
  last_batch_at: string | null;
  last_error: SyncErrorStatus | null;
}

/** A Playback node on the peer sync. */
export interface ReceiverStatus {
  role: 'receiver';
  listening: string | null;
  tls: boolean;
  mutual_tls: boolean;
  token: boolean;
  /** Connections that passed the access checks. */
  connected_peers: number;
  /** Everything open on the listener, what has not authenticated yet, and what was accepted and refused since start. */
  connections: { open: number; unauthenticated: number; accepted: number; refused: Record<GateRefusal, number> };
  /** Open file handles of the process and its limit (null where unknown): new connections are refused from 80 %. */
  file_handles: { open: number; limit: number } | null;
  last_success_at: string | null;
  last_error: SyncErrorStatus | null;
  peers: Record<string, PeerStatus>;
  /** Per origin node_id: received, stored, duplicates, rejected by reason (persisted). */
  ledger: Record<string, NodeLedger>;
}

/**
 * Playback on NATS: how far this zone's stream is behind a stream it mirrors or sources in another
 * zone, as the server reports it.
 */
export interface UpstreamLink {
  kind: 'mirror' | 'source';
  stream: string;
  /** JetStream domain of the origin; null for a stream of the same domain. */
  domain: string | null;
  /** Messages in the origin not yet copied here. */
  lag_messages: number;
  /** Time since the copy last heard from the origin; null when it never has. */
  last_active_ms: number | null;
  /** The server's error for this link, if any. */
  error: string | null;
}

/** A Playback node consuming from NATS. */
export interface ConsumerStatus {
  role: 'receiver';
  backend: 'nats';
  servers: string;
  server: string | null;
  stream: string;
  durable: string;
  group: string | null;
  state: 'connected' | 'connecting' | 'backoff' | 'stopped';
  connected: boolean;
  /** Messages in the stream this consumer has not been delivered yet (from the last delivery). */
  pending: { records: number | null };
  /** Receive time minus record time of the newest record stored last. */
  lag_ms: number | null;
  /** The stream's mirror or sources in other zones, as the server last reported them (every 5 s); empty when it has none. */
  upstream: readonly UpstreamLink[];
  last_success_at: string | null;
  last_error: SyncErrorStatus | null;
  next_retry_at: string | null;
  /** Since start. */
  received: { messages: number; stored: number; duplicates: number; malformed: number; gaps_held: number; gaps_skipped: number; redelivered: number };
  /** Per origin node_id, persisted (the same ledger the HTTP/2 receiver keeps). */
  ledger: Record<string, NodeLedger>;
}

// ── /api/status playback ───────────────────────────────────────────────────────────────────────

/** Verdicts of every replay since start (zero on a Record node). */
export interface ReplayTotals {
  replayed: number;
  matched: number;
  mismatched: number;
  failed: number;
  /** matched / replayed, rounded to 4 places; null before anything was replayed. */
  success_rate: number | null;
}

/** The replay manager's figures on a Playback node. */
export interface ReplayManagerStatus extends ReplayTotals {
  skipped: number;
  dry_run: number;
  missing: number;
  in_flight: number;
  lateness_ms: { p50: number | null; p99: number | null; max: number | null };
  live: { enabled: true; state: ReplayState; cursor: number; read_position: number; realigned: number } | { enabled: false };
  replays_running: number;
}

/** What the serving listeners answered from recordings. */
export interface ServeStatus {
  http: HttpServeStatus | null;
  tcp: TcpServeStatus | null;
  forward: HttpServeStatus | null;
}

export interface HttpServeStatus {
  recordings: number;
  hits: number;
  misses: number;
  forwarded: number;
}

export interface TcpServeStatus {
  sessions: number;
  hits: number;
  misses: number;
}

/** The `playback` section of a Playback node: the manager's figures (totals until it started) and serving. */
export type PlaybackNodeStatus = (ReplayTotals | ReplayManagerStatus) & { serve: ServeStatus };

/** The `playback` section: totals (zero) on a Record node. */
export type PlaybackStatus = ReplayTotals | PlaybackNodeStatus;

// ── /api/replays ───────────────────────────────────────────────────────────────────────────────

export type ReplayState = 'running' | 'done' | 'cancelled' | 'failed';

/**
 * How one record fared: `match` / `mismatch` (compared), `failed` (the target gave no answer),
 * `skipped` (safety policy, or not replayable such as a truncated request body), `dry_run` (the
 * policy only counts it), `missing` (the record is no longer in the store).
 */
export type ResultStatus = 'match' | 'mismatch' | 'failed' | 'skipped' | 'dry_run' | 'missing';

/** Comparison rules as configured (`playback.compare`, or a replay request's override). */
export interface CompareOptions {
  status: boolean;
  /** Lower-case names; "*" = every header but hop-by-hop and framing ones. */
  headers: readonly string[];
  body: boolean;
  ignore: {
    headers: readonly string[];
    json_paths: readonly string[];
    patterns: readonly string[];
  };
  truncated: 'prefix' | 'skip';
}

/** A replay (`GET /api/replays/{id}`, one entry of `GET /api/replays`). */
export interface ReplayDoc {
  id: string;
  kind: 'live' | 'on_demand';
  state: ReplayState;
  created_at: string;
  finished_at: string | null;
  error: string | null;
  /** The replay's settings as given (range or ids, filter, speed, …); `compare` as applied. */
  params: Record<string, unknown> & { compare?: CompareOptions };
  progress: ReplayProgress;
  summary: ReplaySummaryDoc;
}

export interface ReplayProgress {
  read: number;
  queued: number;
  in_flight: number;
  max_in_flight: number;
  comparing: number;
}

/** The running summary of one replay. */
export interface ReplaySummaryDoc {
  counts: Record<ResultStatus, number>;
  /** Requests sent that got a verdict: match + mismatch + failed. */
  replayed: number;
  /** matched / replayed, from 0 to 1; null before anything was replayed. */
  success_rate: number | null;
  /** Results whose comparison was limited by truncation. */
  truncated: number;
  latency_ms: {
    recorded: { p50: number | null; p99: number | null };
    replayed: { p50: number | null; p99: number | null };
  };
  lateness_ms: { p50: number | null; p99: number | null; max: number | null };
  top_differences: Array<{ kind: string; count: number }>;
  top_errors: Array<{ error: string; count: number }>;
  /**
   * Endpoints ("GET /users/{id}", "tcp db:5432") ranked by mismatches, then failures, then results:
   * where to look first. At most 50; beyond 500 distinct endpoints the rest are counted under "other".
   */
  endpoints: EndpointCounts[];
}

/** Results of one endpoint in a replay. */
export interface EndpointCounts {
  endpoint: string;
  /** Every result counted under it, whatever its status. */
  results: number;
  match: number;
  mismatch: number;
  failed: number;
  /** mismatch / (match + mismatch + failed); null when nothing was replayed. */
  mismatch_rate: number | null;
}

/** One record's result (`GET /api/replays/{id}/results`); also how the results file stores it. */
export interface ReplayResult {
  replay_id: string;
  record_id: string;
  protocol: 'http' | 'tcp';
  status: ResultStatus;
  /** HTTP method, null for TCP. */
  method: string | null;
  /** HTTP request target as recorded, or the TCP session's recorded downstream. */
  target: string | null;
  recorded_status: number | null;
  replayed_status: number | null;
  /** HTTP: time to the response head; TCP: session length. */
  recorded_ms: number | null;
  replayed_ms: number | null;
  /** How late the scheduler sent it, against its target time. */
  lateness_ms: number | null;
  /** A body (or byte stream) was compared by prefix or left out because it was truncated. */
  truncated: boolean;
  /** Kinds of difference ("status", "header content-type", "json $.price", "body"). */
  kinds: string[];
  /** A short readable diff (one line per difference), or null. */
  diff: string | null;
  /** Why it failed or was skipped ("QP_ERR_REPLAY_TIMEOUT: …", "safety policy: skip"), or null. */
  error: string | null;
  /** Epoch ms when the result was decided. */
  at: number;
}

// ── /api/replays/{id}/results/{record_id} ─────────────────────────────────────────────────────

/** Both answers of one record field by field, as the replay's rules saw them (`comparison`). */
/**
 * `same` / `differs` as the comparison decided; `ignored`: left out by the rules (ignore lists,
 * header selection, hop-by-hop fields); `redacted`: the recorded value was redacted at record time,
 * so it matches anything.
 */
export type FieldState = 'same' | 'differs' | 'ignored' | 'redacted';

export interface FieldRow {
  /** Header name (lower case) or JSON path ("$.items[0].price"). */
  name: string;
  /** The value as text (JSON for JSON fields), null when absent on that side. */
  recorded: string | null;
  replayed: string | null;
  state: FieldState;
}

export interface SideBySide {
  status: { recorded: number; replayed: number; compared: boolean; differs: boolean };
  headers: FieldRow[];
  /**
   * `json`: both bodies parsed, one row per leaf value; `other`: compare the bodies as they are
   * (the UI shows both); `not_compared`: compare.body is off.
   */
  body: { kind: 'json'; fields: FieldRow[]; more: number } | { kind: 'other'; differs: boolean } | { kind: 'not_compared' };
  /** Why the view may not tell everything (a body cut short, a coding not decoded). */
  notes: string[];
}
