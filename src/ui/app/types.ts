/**
 * The JSON shapes of the API calls the page makes (README "HTTP API"); only the fields it reads.
 * Shapes whose server types are plain TypeScript are imported from there; those built on Node's
 * Buffer (records, bodies) are written out here as the JSON the browser receives.
 */
export type HeaderLine = [name: string, value: string];

export interface JsonBody {
  encoding: 'base64';
  data: string;
  size: number;
  truncated: boolean;
  text?: string;
}

export interface RecordSummary {
  id: string;
  protocol: 'http' | 'tcp';
  node_id: string;
  started_at: string;
  duration_ms: number;
  size_bytes: number;
  method?: string;
  url?: string;
  status?: number | null;
  client?: string;
  downstream?: string | null;
  bytes_in?: number;
  bytes_out?: number;
  error?: string | null;
  state?: 'open' | 'closed';
}

export interface RecordPage {
  records: RecordSummary[];
  next: string | null;
}

export interface Endpoint {
  address: string;
  port: number;
}

export interface TlsInfo {
  sni: string | null;
  alpn: string | null;
  version: string | null;
}

export interface HttpPart {
  headers: HeaderLine[];
  body: JsonBody;
  trailers: HeaderLine[];
  http_version: string;
}

export interface HttpRecord {
  id: string;
  protocol: 'http';
  node_id: string;
  started_at: number;
  duration_ms: number;
  client: Endpoint;
  tls: TlsInfo | null;
  downstream: string | null;
  request: HttpPart & { method: string; url: string };
  response: (HttpPart & { status: number; status_message: string }) | null;
  status: number | null;
  timings: { request_end: number | null; response_start: number | null; response_end: number | null };
  error: { code: string; message: string } | null;
  redacted: string[];
}

export interface TcpChunk {
  dir: 'c2s' | 's2c';
  t_us: number;
  data: string;
  size: number;
  text?: string;
}

export interface TcpRecord {
  id: string;
  protocol: 'tcp';
  node_id: string;
  started_at: number;
  duration_ms: number;
  client: Endpoint;
  tls: TlsInfo | null;
  downstream: string | null;
  downstream_tls: boolean;
  bytes_in: number;
  bytes_out: number;
  chunks: TcpChunk[];
  truncated: boolean;
  state: 'open' | 'closed';
  close_reason: string | null;
  error: { code: string; message: string } | null;
  redacted: string[];
}

export type FullRecord = HttpRecord | TcpRecord;

import type { ReplayResult } from '../../playback/results/result.js';
import type { SummaryJson } from '../../playback/stats/replay-summary.js';
import type { SideBySide } from '../../playback/compare/view-types.js';

export type { FieldRow, FieldState } from '../../playback/compare/view-types.js';

export type { ReplayResult, ResultStatus } from '../../playback/results/result.js';

export interface Quantiles {
  p50: number | null;
  p99: number | null;
}

export interface CompareOptions {
  status: boolean;
  headers: string[];
  body: boolean;
  ignore: { headers: string[]; json_paths: string[]; patterns: string[] };
  truncated: 'prefix' | 'skip';
}

export interface ReplayDoc {
  id: string;
  kind: 'live' | 'on_demand';
  state: 'running' | 'done' | 'cancelled' | 'failed';
  created_at: string;
  finished_at: string | null;
  error: string | null;
  params: Record<string, unknown> & { compare?: CompareOptions };
  progress: { read: number; queued: number; in_flight: number; max_in_flight: number; comparing: number };
  summary: SummaryJson;
}

export interface AnswerSide {
  status: number;
  headers: HeaderLine[];
  body: JsonBody;
}

export interface ResultDetail {
  result: ReplayResult;
  recorded: AnswerSide | null;
  replayed: AnswerSide | null;
  comparison: SideBySide | null;
  compare: CompareOptions;
}

export interface SessionDoc {
  authenticated: boolean;
  login_required: boolean;
  csrf_token: string | null;
  expires_at: string | null;
}

export interface SyncStatus {
  enabled?: false;
  role?: 'sender' | 'receiver';
  backend?: string;
  state?: string;
  connected?: boolean;
  cursor?: number;
  last_seq?: number;
  pending?: { records: number | null; bytes?: number };
  lag_ms?: number | null;
  behind_ms?: number;
  peer?: string;
  listening?: string | null;
  connected_peers?: number;
  last_success_at?: string | null;
  last_error?: { code: string; message: string; at: string } | null;
  ledger?: Record<string, unknown>;
  peers?: Record<string, { address: string; connected: boolean; batches: number; last_batch_at: string | null }>;
}

export interface NodeStatus {
  mode: 'Record' | 'Playback';
  node_id: string;
  version: string;
  uptime_s: number;
  state: 'running' | 'draining';
  records: { count: number; bytes: number; queue_depth: number };
  resources: { cpu_percent: number; rss_bytes: number; heap_used_bytes: number; net_rx_bytes: number; net_tx_bytes: number };
  traffic: {
    http_requests: number;
    http_errors: number;
    tcp_sessions: number;
    tcp_active: number;
    in_flight: number;
    latency_ms?: Quantiles & { count: number; window_s: number };
  };
  recording: { enabled: boolean; recorded: number; recorded_bytes: number; dropped: number };
  sync: SyncStatus;
  playback: { replayed: number; matched: number; mismatched: number; failed: number; success_rate: number | null };
}
