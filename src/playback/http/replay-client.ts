/**
 * Sends replayed HTTP requests to the configured downstreams through keep-alive undici Pools (one
 * per origin, chosen round-robin). Never retries: a retry would change the traffic being validated
 * (reliability.md §1.8). Response bodies are read to the end, keeping at most `maxBody` bytes.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { BodyCapture } from '../../recording/capture.js';
import { originPools, type TargetTls } from './origin-pools.js';
import type { HeaderLine } from '../../recording/model.js';
import type { ResponseSide } from '../compare/types.js';
import type { ReplayRequest } from './rewrite.js';

export interface HttpReplayClientOptions {
  /** Origins such as "http://10.1.0.5:8081"; requests are spread round-robin. */
  origins: readonly string[];
  tls: TargetTls;
  /** Connect, response head, and body idle timeout. */
  timeoutMs: number;
  /** Response body bytes kept for comparison. */
  maxBody: number;
}

/** A replayed request's outcome: the answer, or why there was none. */
export type HttpReplayOutcome =
  | { ok: true; origin: string; response: ResponseSide; ttfbMs: number; totalMs: number }
  | { ok: false; origin: string; error: { code: string; message: string }; totalMs: number };

/** Stable codes for a replay target's failures. */
function classify(err: unknown, origin: string, aborted: boolean): { code: string; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  const text = (err as Error | null)?.message ?? String(err);
  if (aborted) return { code: 'QP_ERR_REPLAY_CANCELLED', message: `replay cancelled while waiting for ${origin}` };
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
      return { code: 'QP_ERR_REPLAY_CONNECT', message: `cannot connect to ${origin} (${code}): is the zone B service up and reachable?` };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { code: 'QP_ERR_REPLAY_TIMEOUT', message: `connecting to ${origin} timed out (playback.timeout)` };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { code: 'QP_ERR_REPLAY_TIMEOUT', message: `${origin} sent no response head in time (playback.timeout)` };
    case 'UND_ERR_BODY_TIMEOUT':
      return { code: 'QP_ERR_REPLAY_TIMEOUT', message: `${origin} stopped sending the response body (playback.timeout)` };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { code: 'QP_ERR_REPLAY_RESET', message: `${origin} closed the connection before answering (${String(code)})` };
    default:
      return { code: 'QP_ERR_REPLAY_PROTOCOL', message: `request to ${origin} failed: ${text}${typeof code === 'string' ? ` (${code})` : ''}` };
  }
}

function headerLines(headers: Record<string, string | string[] | undefined>): HeaderLine[] {
  const out: HeaderLine[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

export class HttpReplayClient {
  private readonly pools: Pool[];
  private turn = 0;

  constructor(private readonly o: HttpReplayClientOptions) {
    this.pools = originPools(o.origins, o.tls, o.timeoutMs);
  }

  /** Sends one request. Never throws: failures come back as `ok: false` with a QP_ERR_REPLAY_* code. */
  async send(req: ReplayRequest, signal?: AbortSignal): Promise<HttpReplayOutcome> {
    const index = this.turn++ % this.pools.length;
    const pool = this.pools[index]!;
    const origin = this.o.origins[index]!;
    const t0 = performance.now();
    try {
      const res = await pool.request({
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        ...(signal !== undefined && { signal }),
      });
      const ttfbMs = performance.now() - t0;
      const capture = new BodyCapture(this.o.maxBody);
      for await (const chunk of res.body) capture.push(chunk as Buffer);
      const response: ResponseSide = { status: res.statusCode, headers: headerLines(res.headers), body: capture.result() };
      return { ok: true, origin, response, ttfbMs, totalMs: performance.now() - t0 };
    } catch (err) {
      return { ok: false, origin, error: classify(err, origin, signal?.aborted ?? false), totalMs: performance.now() - t0 };
    }
  }

  /** Graceful: lets requests in flight finish; `force` aborts them. */
  async close(force: boolean): Promise<void> {
    await Promise.all(this.pools.map((p) => (force ? p.destroy() : p.close()).catch(() => undefined)));
  }
}
