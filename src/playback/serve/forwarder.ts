/**
 * Forward-on-miss for serving: a request no recording matches goes to the downstream, its answer
 * goes back to the client and is recorded (through the normal recorder, redaction included), so
 * the stub fills itself in.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { BodyCapture } from '../../recording/capture.js';
import { originPools, type TargetTls } from '../http/origin-pools.js';
import type { CapturedBody, HeaderLine } from '../../recording/model.js';
import type { HttpExchangeRecorder } from '../../recording/sink.js';
import type { RequestParts } from './request-key.js';
import { HOP_AND_FRAMING_FIELDS } from '../../core/http-fields.js';

/** Hop-by-hop and framing headers (RFC 9110 §7.6.1), which each hop sets itself. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([...HOP_AND_FRAMING_FIELDS, 'expect', 'host']);

export interface ForwarderOptions {
  origins: readonly string[];
  tls: TargetTls;
  timeoutMs: number;
  /** Largest answer relayed (it is held in memory); larger ones fail with 502. */
  maxResponseBytes: number;
  recorder: HttpExchangeRecorder;
}

/** The downstream's answer, whole. */
export interface Forwarded {
  status: number;
  headers: HeaderLine[];
  body: Buffer;
}

export class Forwarder {
  private readonly pools: Pool[];
  private turn = 0;

  constructor(private readonly o: ForwarderOptions) {
    this.pools = originPools(o.origins, o.tls, o.timeoutMs);
  }

  /** Sends the request on, records the exchange, and returns the answer. Throws on downstream failure. */
  async forward(req: RequestParts, client: { address: string; port: number }, httpVersion: string): Promise<Forwarded> {
    const i = this.turn++ % this.pools.length;
    const origin = this.o.origins[i]!;
    const startedAt = Date.now();
    const t0 = performance.now();
    const headers: string[] = [];
    for (const [name, value] of req.headers) if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, value);
    const res = await this.pools[i]!.request({
      method: req.method,
      path: req.url,
      headers,
      body: req.body.length > 0 ? req.body : null,
    });
    const responseStart = performance.now() - t0;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > this.o.maxResponseBytes) {
        res.body.destroy();
        throw new Error(`the downstream answer is larger than ${this.o.maxResponseBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const out: Forwarded = { status: res.statusCode, headers: lines(res.headers), body };
    this.record(req, client, httpVersion, origin, startedAt, responseStart, performance.now() - t0, out);
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private record(
    req: RequestParts,
    client: { address: string; port: number },
    httpVersion: string,
    origin: string,
    startedAt: number,
    responseStart: number,
    total: number,
    out: Forwarded,
  ): void {
    const { recorder } = this.o;
    // The recording rules see a forwarded miss as the proxy would have seen its head.
    if (!recorder.admit({ method: req.method, target: req.url, rawHeaders: req.headers.flat(), client, tls: null })) return;
    const cap = (data: Buffer): CapturedBody => {
      const c = new BodyCapture(recorder.maxBody);
      c.push(data);
      return c.result();
    };
    recorder.commit({
      protocol: 'http',
      started_at: startedAt,
      duration_ms: total,
      client,
      tls: null,
      downstream: origin,
      request: { method: req.method, url: req.url, http_version: httpVersion, headers: [...req.headers], body: cap(req.body), trailers: [] },
      response: { status: out.status, status_message: '', http_version: '1.1', headers: out.headers, body: cap(out.body), trailers: [] },
      status: out.status,
      timings: { request_end: 0, response_start: responseStart, response_end: total },
      error: null,
    });
  }
}

function lines(headers: Record<string, string | string[] | undefined>): HeaderLine[] {
  const out: HeaderLine[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, v]);
  }
  return out;
}
