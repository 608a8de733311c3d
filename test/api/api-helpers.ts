import { request } from 'node:http';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ApiServer } from '../../src/api/api-server.js';
import type { ApiOptions, ApiRecords, RecordPage, RecordQuery } from '../../src/api/api-server.js';
import { QProxyError } from '../../src/core/errors.js';
import { RECORD_FORMAT_VERSION } from '../../src/recording/model.js';
import type { HttpRecord, QRecord, RecordSummary } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';

/** A record with the given start time and bodies; everything else plausible. */
export function makeRecord(startedAt: number, opts: { reqBody?: Buffer; resBody?: Buffer; truncated?: boolean } = {}): HttpRecord {
  const reqBody = opts.reqBody ?? Buffer.alloc(0);
  const resBody = opts.resBody ?? Buffer.from('{"ok":true}');
  return {
    v: RECORD_FORMAT_VERSION,
    id: uuidv7(startedAt),
    protocol: 'http',
    node_id: 'az-a-1',
    started_at: startedAt,
    duration_ms: 1.5,
    client: { address: '127.0.0.1', port: 50000 },
    tls: null,
    downstream: 'http://127.0.0.1:8081',
    request: {
      method: 'POST',
      url: '/orders?id=7',
      http_version: '1.1',
      headers: [['Host', 'shop.local'], ['Content-Type', 'application/json']],
      body: { data: reqBody, size: reqBody.length + (opts.truncated ? 10 : 0), truncated: opts.truncated ?? false },
      trailers: [],
    },
    response: {
      status: 200,
      status_message: 'OK',
      http_version: '1.1',
      headers: [['Content-Type', 'application/json']],
      body: { data: resBody, size: resBody.length, truncated: false },
      trailers: [],
    },
    status: 200,
    timings: { request_end: 0.2, response_start: 1.0, response_end: 1.5 },
    error: null,
    redacted: [],
  };
}

function summary(r: QRecord): RecordSummary {
  if (r.protocol !== 'http') throw new Error('MemoryRecords summarises HTTP records only');
  return {
    id: r.id,
    protocol: r.protocol,
    node_id: r.node_id,
    started_at: new Date(r.started_at).toISOString(),
    duration_ms: r.duration_ms,
    size_bytes: r.request.body.data.length + (r.response?.body.data.length ?? 0),
    method: r.request.method,
    url: r.request.url,
    status: r.status,
  };
}

/**
 * The `records` interface over an array, paging newest first by id with an opaque cursor, and
 * refusing foreign cursors the way the store does (QP_ERR_BAD_CURSOR).
 */
export class MemoryRecords implements ApiRecords {
  readonly queries: RecordQuery[] = [];
  private readonly byId = new Map<string, QRecord>();

  constructor(records: QRecord[] = []) {
    for (const r of records) this.byId.set(r.id, r);
  }

  list(q: RecordQuery): RecordPage {
    this.queries.push(q);
    let after: string | undefined;
    if (q.cursor !== undefined) {
      const decoded = Buffer.from(q.cursor, 'base64url').toString();
      if (!decoded.startsWith('before:')) throw new QProxyError('QP_ERR_BAD_CURSOR', `cursor ${q.cursor} was not issued by this store`);
      after = decoded.slice('before:'.length);
    }
    const matching = [...this.byId.values()]
      .filter((r) => q.protocol === undefined || r.protocol === q.protocol)
      .filter((r) => (q.start === undefined || r.started_at >= q.start) && (q.end === undefined || r.started_at <= q.end))
      .filter((r) => after === undefined || r.id < after)
      .sort((a, b) => (a.id < b.id ? 1 : -1));
    const page = matching.slice(0, q.limit);
    const more = matching.length > q.limit;
    const next = more ? Buffer.from(`before:${page[page.length - 1]!.id}`).toString('base64url') : null;
    return { records: page.map(summary), next };
  }

  get(id: string): QRecord | null {
    return this.byId.get(id) ?? null;
  }

  delete(id: string): Promise<boolean> {
    return Promise.resolve(this.byId.delete(id));
  }
}

/** A logger that keeps its JSON lines for assertions. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void out.push(s) });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface Started {
  server: ApiServer;
  port: number;
  records: MemoryRecords;
}

/** Starts an ApiServer on 127.0.0.1:0 and closes it after the test. */
export async function startApi(t: TestContext, overrides: Partial<ApiOptions> = {}): Promise<Started> {
  const records = overrides.records instanceof MemoryRecords ? overrides.records : new MemoryRecords();
  const server = new ApiServer({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    records,
    status: () => ({ mode: 'Record', node_id: 'az-a-1' }),
    metrics: { render: () => Promise.resolve('qproxy_up 1\n'), contentType: 'text/plain; version=0.0.4; charset=utf-8' },
    ready: () => true,
    logger: pino({ level: 'silent' }),
    ...overrides,
  });
  t.after(() => server.close());
  const address = await server.listen();
  return { server, port: address.port, records };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** One HTTP/1.1 call on a fresh connection; `headers` may set Host to anything. */
export function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  address = '127.0.0.1',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: () => JSON.parse(text) as Record<string, unknown>,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A POST of `body` on a fresh connection. */
export function post(port: number, path: string, body: string, type = 'application/json'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': type }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
