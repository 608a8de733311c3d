import type { HttpRecord, QRecord } from '../../recording/model.js';
import type { RecordedOutcome } from '../compare/compare-http.js';
import type { JobOutcome, Preparation, ProtocolDriver, RecordFacts } from '../driver.js';
import { pathOf } from '../../core/path-glob.js';
import type { ResultsThread } from '../results/results-thread.js';
import { SafetyPolicy, type SafetyOptions } from '../safety.js';
import type { HttpReplayClient } from './replay-client.js';
import { comparedServerMessages, unreplayable, type WsReplayClient } from './ws-replay.js';
import { buildReplayRequest, type ReplayRequest, type RewriteOptions } from './rewrite.js';

export interface HttpDriverOptions {
  client: HttpReplayClient;
  /** Replays the records of WebSocket connections (those with `websocket` messages). */
  ws?: WsReplayClient;
  results: ResultsThread;
  /** Comparison rules registered with the results thread. */
  rulesId: number;
  rewrite: RewriteOptions;
  safety: SafetyOptions;
}

/** Payload bytes of a record's WebSocket messages (held while its job is queued). */
function wsBytes(r: HttpRecord): number {
  let n = 0;
  for (const m of r.websocket?.messages ?? []) n += m.data.length;
  return n;
}

/** Rough per-record overhead besides body bytes, for the queue's memory bound. */
const RECORD_OVERHEAD = 1024;

/** Replays HTTP records: safety policy, rewriting, sending, and handing the answer to comparison. */
export class HttpDriver implements ProtocolDriver {
  readonly protocol = 'http';
  private readonly safety: SafetyPolicy;

  constructor(private readonly o: HttpDriverOptions) {
    this.safety = new SafetyPolicy(o.safety);
  }

  facts(record: QRecord): RecordFacts {
    const r = record as HttpRecord;
    return {
      method: r.request.method,
      target: r.request.url,
      recorded_status: r.status ?? r.response?.status ?? null,
      recorded_ms: r.timings.response_start,
    };
  }

  prepare(record: QRecord): Preparation {
    const r = record as HttpRecord;
    const method = r.request.method;
    const action = this.safety.decide(method, pathOf(r.request.url));
    if (action === 'skip') return { kind: 'skipped', reason: `safety policy: skip (${method} ${pathOf(r.request.url)})` };
    const req = buildReplayRequest(r, this.o.rewrite);
    if ('skip' in req) return { kind: 'skipped', reason: req.skip };
    const ws = r.websocket !== undefined && r.status === 101 ? this.o.ws : undefined;
    if (ws !== undefined) {
      const why = unreplayable(r);
      if (why !== null) return { kind: 'skipped', reason: why };
    }
    if (action === 'dry_run') {
      return { kind: 'dry_run', reason: `dry run: would send ${method} ${req.path} (${req.body?.length ?? 0} body bytes)` };
    }
    return {
      kind: 'job',
      job: {
        lane: `${r.node_id}|${r.client.address}|${r.client.port}`,
        // HTTP/2 multiplexes: only the start order of one connection's requests is kept.
        serial: r.request.http_version !== '2.0',
        bytes: RECORD_OVERHEAD + (req.body?.length ?? 0) + (r.response?.body.data.length ?? 0) + wsBytes(r),
        run: (signal) => (ws !== undefined ? this.runWs(ws, r, req, signal) : this.run(r, req, signal)),
      },
    };
  }

  /** A WebSocket connection: its server messages are compared, message by message. */
  private async runWs(client: WsReplayClient, r: HttpRecord, req: ReplayRequest, signal: AbortSignal): Promise<JobOutcome> {
    const out = await client.run(r, req, signal);
    const seconds = out.totalMs / 1000;
    if (!out.ok) return { ok: false, error: out.error, seconds };
    const recorded = comparedServerMessages(r.websocket!.messages);
    // A recording without the server's close (the connection dropped) does not expect one.
    const replayed = recorded.some((m) => m.opcode === 'close') ? out.side.messages : out.side.messages.filter((m) => m.opcode !== 'close');
    return {
      ok: true,
      seconds,
      replayedStatus: out.side.status,
      replayedMs: out.ttfbMs,
      compare: (base) => this.o.results.compareWs(base, this.o.rulesId, { status: 101, messages: recorded }, { status: out.side.status, messages: replayed }),
    };
  }

  private async run(r: HttpRecord, req: ReplayRequest, signal: AbortSignal): Promise<JobOutcome> {
    const out = await this.o.client.send(req, signal);
    const seconds = out.totalMs / 1000;
    if (!out.ok) return { ok: false, error: out.error, seconds };
    const recorded: RecordedOutcome = {
      response: r.response && { status: r.response.status, headers: r.response.headers, body: r.response.body },
      status: r.status,
      error: r.error,
    };
    return {
      ok: true,
      seconds,
      replayedStatus: out.response.status,
      replayedMs: out.ttfbMs,
      compare: (base) => this.o.results.compareHttp(base, this.o.rulesId, recorded, out.response),
    };
  }
}
