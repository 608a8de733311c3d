import type { HeaderTap } from './hop-by-hop.js';
import type { ConnectionInfo } from './connection-info.js';
import type { HttpLimits } from './options.js';
import type { RejectReason } from './observer.js';

/**
 * Checks on a request head that Node's parser does not make, and the forwarding header block.
 * See reliability.md §1.3 (smuggling) and §1.4 (forwarding headers).
 *
 * @module
 */

/** What the checks and the forwarding logic need from the client's header block. */
export interface RequestHeadFacts {
  /** Header lines, pseudo-headers excluded. */
  count: number;
  hostCount: number;
  host: string | null;
  /** HTTP/2 `:authority`. */
  authority: string | null;
  /** Parsed Content-Length; null when absent. */
  contentLength: number | null;
  hasTransferEncoding: boolean;
  expect: string | null;
  /** HTTP/2 only: a connection-specific field was present (RFC 9113 §8.2.2). */
  connectionSpecific: boolean;
}

/** One pass over `rawHeaders`, lower-casing only the names it may care about. */
export function inspectRequestHead(raw: readonly string[], h2: boolean): RequestHeadFacts {
  const facts: RequestHeadFacts = {
    count: 0,
    hostCount: 0,
    host: null,
    authority: null,
    contentLength: null,
    hasTransferEncoding: false,
    expect: null,
    connectionSpecific: false,
  };
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (h2 && name.charCodeAt(0) === 0x3a /* : */) {
      if (name === ':authority') facts.authority = raw[i + 1]!;
      continue;
    }
    facts.count++;
    switch (name.length) {
      case 2:
      case 4:
      case 6:
      case 7:
      case 10:
      case 14:
      case 16:
      case 17:
        noteField(facts, name.toLowerCase(), raw[i + 1]!, h2);
    }
  }
  return facts;
}

function noteField(facts: RequestHeadFacts, lower: string, value: string, h2: boolean): void {
  switch (lower) {
    case 'host':
      facts.hostCount++;
      facts.host ??= value;
      return;
    case 'content-length':
      facts.contentLength = Number(value);
      return;
    case 'transfer-encoding':
      facts.hasTransferEncoding = true;
      if (h2) facts.connectionSpecific = true;
      return;
    case 'expect':
      facts.expect = value;
      return;
    case 'te':
      if (h2 && value.trim().toLowerCase() !== 'trailers') facts.connectionSpecific = true;
      return;
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'upgrade':
      if (h2) facts.connectionSpecific = true;
  }
}

/**
 * The first reason to refuse this request before anything is forwarded, or null.
 * Node's parser already rejects CL+TE, bad chunking, bare LF, obs-fold and the like (→ clientError).
 */
export function checkRequestHead(facts: RequestHeadFacts, httpVersion: string, limits: HttpLimits, h2: boolean): RejectReason | null {
  // An HTTP/1 parser also accepts "HTTP/2.0" and a version-less (HTTP/0.9) request line; neither
  // is a message this proxy can forward faithfully (RFC 9110 §15.6.6: 505).
  if (!h2 && httpVersion !== '1.1' && httpVersion !== '1.0') return 'unsupported_version';
  if (limits.maxHeadersCount > 0 && facts.count > limits.maxHeadersCount) return 'too_many_headers';
  if (h2 && facts.connectionSpecific) return 'h2_malformed';
  if (facts.hostCount > 1) return 'duplicate_host';
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400 (Node's own check is off so
  // that this refusal is counted and recorded like the others).
  if (!h2 && httpVersion === '1.1' && facts.hostCount === 0) return 'missing_host';
  // RFC 9113 §8.3.1: a Host that names another entity than :authority makes the request malformed.
  if (h2 && facts.host !== null && facts.authority !== null && facts.host !== facts.authority) return 'duplicate_host';
  // RFC 9112 §6.1: HTTP/1.0 has no chunked framing; a TE header there means faulty framing.
  if (!h2 && httpVersion === '1.0' && facts.hasTransferEncoding) return 'http10_transfer_encoding';
  if (facts.expect !== null && facts.expect.trim().toLowerCase() !== '100-continue') return 'expectation_failed';
  if (limits.maxBodySize > 0 && facts.contentLength !== null && facts.contentLength > limits.maxBodySize) return 'body_too_large';
  return null;
}

/**
 * Builds the header block sent downstream: hop-by-hop fields are removed by the caller's
 * `sanitizeHopByHop`; this tap takes over the fields QProxy rewrites and appends its own
 * `Host`, `X-Forwarded-*` and `Via` afterwards (so a client cannot strip them by nomination).
 * As a forward proxy it adds `Via` only (the client's own X-Forwarded-* pass as sent) and consumes
 * `Proxy-Authorization`, which is meant for QProxy and must not reach the origin.
 */
export class ForwardingTap implements HeaderTap {
  private host: string | null = null;
  private forwardedFor: string[] | null = null;
  private via: string[] | null = null;
  private cookies: string[] | null = null;

  constructor(
    private readonly conn: ConnectionInfo,
    /** Authority of an absolute-form target; wins over Host. */
    private readonly authority: string | null,
    private readonly h2: boolean,
    private readonly mode: 'reverse' | 'forward' = 'reverse',
  ) {}

  take(lower: string, _name: string, value: string): boolean {
    if (lower.charCodeAt(0) === 0x3a /* : */) {
      if (lower === ':authority') this.host ??= value;
      return true;
    }
    switch (lower) {
      case 'host':
        this.host = value;
        return true;
      case 'x-forwarded-for':
        if (this.mode === 'forward') return false;
        (this.forwardedFor ??= []).push(value);
        return true;
      case 'proxy-authorization':
        return this.mode === 'forward';
      case 'via':
        (this.via ??= []).push(value);
        return true;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        return this.mode === 'reverse';
      // undici cannot send request trailers, so announcing them would be a lie.
      case 'trailer':
      // QProxy answers 100-continue itself; undici refuses the field anyway.
      case 'expect':
        return true;
      case 'cookie':
        // RFC 9113 §8.2.3: HTTP/2 cookie crumbs are joined with "; " before an HTTP/1.1 hop.
        if (!this.h2) return false;
        (this.cookies ??= []).push(value);
        return true;
      default:
        return false;
    }
  }

  /** The Host forwarded (absolute-form authority, Host or `:authority`); null when the client sent none. Read after the sanitising pass. */
  get forwardedHost(): string | null {
    return this.authority ?? this.host;
  }

  /**
   * Appends QProxy's own fields to the sanitised block.
   * @param receivedProtocol version of the message as QProxy received it, for Via ("1.1", "2").
   */
  finish(out: string[], receivedProtocol: string): string[] {
    const host = this.forwardedHost;
    if (host !== null) out.push('host', host);
    if (this.cookies !== null) out.push('cookie', this.cookies.join('; '));
    const hop = `${receivedProtocol} qproxy`;
    const via = this.via === null ? hop : `${this.via.join(', ')}, ${hop}`;
    if (this.mode === 'forward') {
      out.push('Via', via);
      return out;
    }
    const peer = this.conn.client.address;
    const xff = this.conn.trusted && this.forwardedFor !== null ? `${this.forwardedFor.join(', ')}, ${peer}` : peer;
    out.push('X-Forwarded-For', xff, 'X-Forwarded-Proto', this.conn.proto);
    if (host !== null) out.push('X-Forwarded-Host', host);
    out.push('Via', via);
    return out;
  }
}
