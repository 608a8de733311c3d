/**
 * The demo reads both nodes through their public HTTP API — the same calls it prints for the user
 * to try — rather than reaching into the node objects.
 */
import { Agent, request } from 'undici';
import { QProxyError } from '../core/errors.js';

/** The parts of `GET /api/status` the demo shows (SPEC §7). */
export interface NodeStatus {
  records: { count: number };
  recording: { recorded: number; dropped: number };
  traffic: { http_requests: number; tcp_sessions: number };
  sync: {
    role?: 'sender' | 'receiver';
    state?: string;
    connected?: boolean;
    last_error?: { message: string } | null;
    pending?: { records: number };
    cursor?: number;
    last_seq?: number;
    sent?: { records: number };
  };
  playback: {
    replayed: number;
    matched: number;
    mismatched: number;
    failed: number;
    success_rate: number | null;
    skipped?: number;
    dry_run?: number;
    missing?: number;
  };
}

/** One row of `GET /api/replays/{id}/results` (the fields the demo shows). */
export interface ResultRow {
  record_id: string;
  protocol: 'http' | 'tcp';
  status: string;
  method: string | null;
  target: string | null;
  recorded_status: number | null;
  replayed_status: number | null;
  kinds: string[];
  diff: string | null;
  error: string | null;
}

/** Longest a single API call may take before the demo reports the node as unreachable. */
const CALL_TIMEOUT_MS = 5_000;

/** A small client for the two nodes' APIs; one keep-alive pool, closed by `close()`. */
export class NodeApi {
  private readonly agent = new Agent({ connections: 4, headersTimeout: CALL_TIMEOUT_MS, bodyTimeout: CALL_TIMEOUT_MS });

  constructor(private readonly token: string) {}

  /** `GET {apiUrl}/api/status`. */
  status(apiUrl: string): Promise<NodeStatus> {
    return this.get<NodeStatus>(`${apiUrl}/api/status`);
  }

  /** The live replay's newest-decided mismatches, at most `limit` (`/api/replays/live/results`). */
  async mismatches(apiUrl: string, limit: number): Promise<ResultRow[]> {
    const page = await this.get<{ results: ResultRow[] }>(`${apiUrl}/api/replays/live/results?status=mismatch&limit=${limit}`);
    return page.results;
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private async get<T>(url: string): Promise<T> {
    const res = await request(url, { dispatcher: this.agent, headers: { authorization: `Bearer ${this.token}` } });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      throw new QProxyError('QP_ERR_DEMO_API', `GET ${url} answered ${res.statusCode}: ${text.slice(0, 200)} — see the node log in the demo's temp folder`);
    }
    return JSON.parse(text) as T;
  }
}
