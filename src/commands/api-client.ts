/**
 * The commands' HTTP client for a node's API: base URL + bearer token, JSON in and out, and errors
 * that tell the user what to do (start the node, fix the URL, set the token).
 */
import { Agent, request } from 'undici';
import { QProxyError, errorMessage } from '../core/errors.js';
import type { ApiTarget } from './args.js';

/** The API answered with an error status; `apiCode` is the API's own `code` when it sent one. */
export class ApiRequestError extends QProxyError {
  constructor(
    readonly status: number,
    readonly apiCode: string | null,
    message: string,
  ) {
    super('QP_ERR_CLI_API', message);
  }
}

/** The API could not be reached at all (refused, unknown host, timeout, TLS failure). */
export class ApiUnreachableError extends QProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QP_ERR_CLI_UNREACHABLE', message, options);
  }
}

export interface ApiCall {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Path under the base URL, starting with "/". */
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON; a string or Buffer is sent as it is (already JSON). */
  body?: unknown;
}

export interface ApiResponse {
  status: number;
  text: string;
}

const CONNECT_TIMEOUT_MS = 10_000;
// A HAR page of 1000 records with bodies can take a while to build; a hung node must not hang CI forever.
const RESPONSE_TIMEOUT_MS = 120_000;
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

function causeCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[]; cause?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  if (Array.isArray(e?.errors)) for (const inner of e.errors) if (typeof (inner as { code?: unknown }).code === 'string') return (inner as { code: string }).code;
  return e?.cause !== undefined ? causeCode(e.cause) : undefined;
}

/** One API client per command run; `close()` releases its sockets. */
export class ApiClient {
  private readonly agent = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS }, headersTimeout: RESPONSE_TIMEOUT_MS, bodyTimeout: RESPONSE_TIMEOUT_MS });

  constructor(private readonly target: ApiTarget) {}

  get baseUrl(): string {
    return this.target.baseUrl;
  }

  /** Sends a call and returns status and body text; throws ApiRequestError on a non-2xx answer. */
  async call(c: ApiCall): Promise<ApiResponse> {
    const url = new URL(this.target.baseUrl + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.target.token !== undefined) headers.authorization = `Bearer ${this.target.token}`;
    let body: string | Buffer | undefined;
    if (c.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof c.body === 'string' || Buffer.isBuffer(c.body) ? c.body : JSON.stringify(c.body);
    }
    let res;
    try {
      res = await request(url, { method: c.method ?? 'GET', headers, body, dispatcher: this.agent });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) throw this.failure(c, res.statusCode, text);
    return { status: res.statusCode, text };
  }

  /** A call whose answer is JSON (204 → null). */
  async json<T>(c: ApiCall): Promise<T> {
    const res = await this.call(c);
    if (res.status === 204 || res.text === '') return null as T;
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new ApiRequestError(res.status, null, `${c.method ?? 'GET'} ${c.path} answered ${res.status} with a body that is not JSON; is ${this.baseUrl} a QProxy API?`);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private unreachable(err: unknown): QProxyError {
    const code = causeCode(err);
    const hint = 'is the node running? set --api or QPROXY_API_URL';
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new ApiUnreachableError(`cannot reach the QProxy API at ${this.baseUrl} (${code}) — ${hint}`, { cause: err });
    }
    return new ApiUnreachableError(`cannot reach the QProxy API at ${this.baseUrl}: ${errorMessage(err)}${code ? ` (${code})` : ''} — ${hint}`, { cause: err });
  }

  private failure(c: ApiCall, status: number, text: string): ApiRequestError {
    let apiMessage: string | null = null;
    let apiCode: string | null = null;
    try {
      const parsed = JSON.parse(text) as { error?: unknown; code?: unknown };
      if (typeof parsed.error === 'string') apiMessage = parsed.error;
      if (typeof parsed.code === 'string') apiCode = parsed.code;
    } catch {
      // Not the API's JSON error shape (a proxy in between, or not QProxy at all): show the start of the text.
    }
    const what = `${c.method ?? 'GET'} ${c.path} failed with ${status}`;
    const detail = apiMessage ?? (text.trim().slice(0, 200) || 'no details');
    let message = `${what}${apiCode ? ` (${apiCode})` : ''}: ${detail}`;
    if (status === 401) {
      message += this.target.token === undefined
        ? ' — this node needs an API token: pass --token or set QPROXY_API_TOKEN'
        : ' — the token was refused: check --token or QPROXY_API_TOKEN against the node\'s api.token';
    }
    return new ApiRequestError(status, apiCode, message);
  }
}
