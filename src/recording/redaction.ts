/**
 * Redaction of secrets in HTTP records, done in the recorder before a record is queued, so that
 * neither the store, the sync link, exports nor logs ever hold the values (security.md §3).
 */
import { ConfigError } from '../core/errors.js';
import { redactBody, type BodyRules } from './body-redaction.js';
import { redactHeaderValue } from './header-redaction.js';
import { compileJsonPath } from '../core/json-path.js';
import type { HeaderLine, HttpRecord, HttpRequestPart, HttpResponsePart, WebSocketCapture, WsMessage } from './model.js';
import { createDigest, type Digest } from './redaction-digest.js';
import type { HttpRecordDraft } from './sink.js';
import { URL_FIELDS, redactUrl, type TargetHits, type TargetRules, type UrlShape } from './target-redaction.js';

export { REDACTION_PREFIX } from './redaction-digest.js';

/** What to redact and with which key. */
export interface RedactionOptions {
  /** False: records are stored exactly as they passed. */
  enabled: boolean;
  /** HMAC secret, one per deployment; the same key on every node keeps digests comparable. */
  key: Buffer | string;
  /** Extra header names (case-insensitive); applied to headers and trailers. */
  headers: string[];
  /** Extra query parameter names (case-insensitive); also applied to urlencoded form bodies. */
  queryParams: string[];
  /** JSON paths into JSON bodies: "$.password", "$..token", "$.user.ssn", "$.items[*].card". */
  jsonPaths: string[];
  /** Regular expression sources run over text bodies; group 1, if the pattern has one, is what is replaced. */
  bodyPatterns: string[];
  /** True: only the lists above. False: the defaults plus the lists above. */
  replaceDefaults: boolean;
}

/** Header names redacted by default. */
export const DEFAULT_REDACTED_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'x-amz-security-token',
  'api-key',
  'x-csrf-token',
]);

/** Query (and form) parameter names redacted by default. */
export const DEFAULT_REDACTED_QUERY: readonly string[] = Object.freeze([
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'apikey',
  'key',
  'secret',
  'client_secret',
  'password',
  'passwd',
  'signature',
  'sig',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
]);

type Report = (path: string) => void;
type PartName = 'request' | 'response';

/**
 * Replaces secret values in an HTTP record draft by `REDACTED:hmac-sha256:<16 hex>` digests. All
 * rules are compiled in the constructor. The default rules (headers and query) never look at
 * bodies; bodies are read only when a body rule fits their media type, and copied only when
 * something in them was redacted.
 */
export class Redactor {
  readonly enabled: boolean;
  private readonly digest: Digest;
  private readonly headerNames: ReadonlySet<string>;
  private readonly queryNames: ReadonlySet<string>;
  private readonly target: TargetRules;
  /** Header fields that hold URLs (`:path`, `Referer`, …) and are not redacted whole. */
  private readonly urlFields: ReadonlyMap<string, UrlShape>;
  private readonly body: BodyRules;
  private readonly anyBodyRule: boolean;

  /** @throws ConfigError for an empty key (when enabled), an unsupported JSON path or an invalid pattern. */
  constructor(opts: RedactionOptions) {
    this.enabled = opts.enabled;
    this.digest = opts.enabled ? createDigest(opts.key) : (value) => value;
    const defaults = !opts.replaceDefaults;
    this.headerNames = nameSet(defaults ? DEFAULT_REDACTED_HEADERS : [], opts.headers);
    this.queryNames = nameSet(defaults ? DEFAULT_REDACTED_QUERY : [], opts.queryParams);
    this.target = { queryNames: this.queryNames, userinfo: defaults, digest: this.digest };
    this.urlFields = new Map([...URL_FIELDS].filter(([name]) => !this.headerNames.has(name)));
    this.body = {
      formNames: this.queryNames,
      jsonPaths: opts.jsonPaths.map(compileJsonPath),
      patterns: opts.bodyPatterns.map(compilePattern),
    };
    this.anyBodyRule = this.queryNames.size > 0 || this.body.jsonPaths.length > 0 || this.body.patterns.length > 0;
  }

  /**
   * Redacts a draft without mutating it: changed parts are new objects, unchanged parts (and the
   * whole draft, when nothing was redacted) are the input's own objects.
   *
   * @returns the redacted draft and the paths redacted or skipped, each once, e.g.
   *   "request.headers.authorization", "request.query.token", "request.body$.password",
   *   "response.body/pattern:0", "response.body:skipped-encoded".
   */
  redactHttp(draft: HttpRecordDraft): { draft: HttpRecordDraft; redacted: string[] } {
    if (!this.enabled) return { draft, redacted: [] };
    const redacted: string[] = [];
    const report: Report = (path) => {
      if (!redacted.includes(path)) redacted.push(path);
    };
    const request = this.redactRequest(draft.request, report);
    const response = draft.response && this.redactPart(draft.response, 'response', report);
    // Form field names do not apply to messages: only JSON paths and patterns are worth a look.
    const textRules = this.body.jsonPaths.length > 0 || this.body.patterns.length > 0;
    const websocket = draft.websocket && textRules ? this.redactWebSocket(draft.websocket, report) : draft.websocket;
    if (request === draft.request && response === draft.response && websocket === draft.websocket) return { draft, redacted };
    return { draft: { ...draft, request, response, ...(websocket !== undefined && { websocket }) }, redacted };
  }

  /**
   * A finished record that did not pass the recorder (a HAR import) through the same rules. Its
   * `redacted` list keeps what it said and gains what was redacted now; values that already are
   * digests stay as they are, so importing QProxy's own export changes nothing.
   */
  redactRecord(record: HttpRecord): HttpRecord {
    const { draft, redacted } = this.redactHttp(record);
    const added = redacted.filter((path) => !record.redacted.includes(path));
    if (draft === record && added.length === 0) return record;
    return {
      ...record,
      request: draft.request,
      response: draft.response,
      ...(draft.websocket !== undefined && { websocket: draft.websocket }),
      redacted: [...record.redacted, ...added],
    };
  }

  private redactRequest(part: HttpRequestPart, report: Report): HttpRequestPart {
    const url = redactUrl(part.url, 'target', this.target, targetHits(report));
    const rest = this.redactPart(part, 'request', report);
    if (url === part.url) return rest;
    return { ...rest, url };
  }

  private redactPart<P extends HttpRequestPart | HttpResponsePart>(part: P, name: PartName, report: Report): P {
    const headers = this.redactHeaders(part.headers, `${name}.headers`, report);
    const trailers = this.redactHeaders(part.trailers, `${name}.trailers`, report);
    const body = this.anyBodyRule ? this.redactPartBody(part, name, report) : part.body;
    if (headers === part.headers && trailers === part.trailers && body === part.body) return part;
    return { ...part, headers, trailers, body };
  }

  /**
   * Text messages go through the body rules as a body would: JSON paths when the text is a JSON
   * object or array, patterns always. Reported as "websocket.c2s$.password", "websocket.s2c/pattern:0".
   */
  private redactWebSocket(ws: WebSocketCapture, report: Report): WebSocketCapture {
    let messages: WsMessage[] | null = null;
    for (let i = 0; i < ws.messages.length; i++) {
      const m = ws.messages[i]!;
      if (m.opcode !== 'text' || m.data.length === 0) continue;
      const prefix = `websocket.${m.dir}`;
      const ctx = { side: m.dir === 'c2s' ? ('request' as const) : ('response' as const), contentType: looksLikeJson(m.data) ? 'application/json' : 'text/plain', contentEncoding: undefined };
      const body = redactBody(m, ctx, this.body, this.digest, (path) => report(prefix + path.slice(path.indexOf('.body') + 5)));
      if (body === m) continue;
      messages ??= [...ws.messages];
      messages[i] = { ...m, data: body.data, size: body.size };
    }
    return messages === null ? ws : { ...ws, messages };
  }

  private redactPartBody(part: HttpRequestPart | HttpResponsePart, side: PartName, report: Report): HttpRequestPart['body'] {
    if (part.body.data.length === 0) return part.body;
    const ctx = {
      side,
      contentType: headerValue(part.headers, 'content-type'),
      contentEncoding: headerValue(part.headers, 'content-encoding'),
    };
    return redactBody(part.body, ctx, this.body, this.digest, report);
  }

  /**
   * Secret headers are replaced (cookie names and auth schemes kept); headers holding URLs — among
   * them HTTP/2's `:path` and `:authority` — go through the same target redaction as the record's
   * `url`. Copy-on-write: the array is copied only at the first header that changes.
   */
  private redactHeaders(lines: HeaderLine[], prefix: string, report: Report): HeaderLine[] {
    let out: HeaderLine[] | null = null;
    for (let i = 0; i < lines.length; i++) {
      const [name, value] = lines[i]!;
      if (value.length === 0) continue;
      const lower = name.toLowerCase();
      let redacted: string;
      if (this.headerNames.has(lower)) {
        redacted = redactHeaderValue(lower, value, this.digest);
        report(`${prefix}.${lower}`);
      } else {
        const shape = this.urlFields.get(lower);
        if (shape === undefined) continue;
        // ":path" is the request target itself: its hits read as the url's, so replay and serve
        // treat them alike. Any other URL field reports the field.
        const hits = lower === ':path' ? targetHits(report) : fieldHits(report, `${prefix}.${lower}`);
        redacted = redactUrl(value, shape, this.target, hits);
        if (redacted === value) continue;
      }
      out ??= lines.slice();
      out[i] = [name, redacted];
    }
    return out ?? lines;
  }
}

/** Hits in the request target: `request.query.<name>`, `request.url.userinfo`. */
function targetHits(report: Report): TargetHits {
  return { query: (name) => report(`request.query.${name}`), userinfo: () => report('request.url.userinfo') };
}

/** Hits in a header that holds a URL: the header's path, once. */
function fieldHits(report: Report, path: string): TargetHits {
  const hit = (): void => report(path);
  return { query: hit, userinfo: hit };
}

function nameSet(defaults: readonly string[], extra: readonly string[]): ReadonlySet<string> {
  const set = new Set<string>();
  for (const n of [...defaults, ...extra]) {
    const lower = n.trim().toLowerCase();
    if (lower.length > 0) set.add(lower);
  }
  return set;
}

function compilePattern(source: string, index: number): RegExp {
  try {
    // "d" gives match indices, so that only group 1 is replaced when the pattern has groups.
    return new RegExp(source, 'gd');
  } catch (err) {
    throw new ConfigError(
      `redaction body pattern #${index} (${JSON.stringify(source)}) is not a valid regular expression: ` +
        `${(err as Error).message}. Fix or remove it`,
      { cause: err },
    );
  }
}

function headerValue(lines: readonly HeaderLine[], lowerName: string): string | undefined {
  for (const [name, value] of lines) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return value;
  }
  return undefined;
}

/** A text message whose first non-blank character opens a JSON object or array. */
function looksLikeJson(data: Buffer): boolean {
  for (const byte of data) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b || byte === 0x5b;
  }
  return false;
}
