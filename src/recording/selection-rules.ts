import { isIP, type BlockList } from 'node:net';
import { compileGlob, pathOf, type PathGlob } from '../core/path-glob.js';
import type { Endpoint, TlsInfo } from './model.js';

/**
 * The include / exclude rules of `recording`: what an HTTP request head or a newly accepted TCP
 * session must look like for a rule to match. Only what is known before any body byte moves is
 * looked at, so the decision costs one pass over the head.
 *
 * @module
 */

/** What is known of an HTTP exchange when its request head arrives: all a decision may look at. */
export interface HttpRequestHead {
  method: string;
  /** The request target as received (origin-form or absolute-form). */
  target: string;
  /** Node's flat raw header list (name, value, name, value…); HTTP/2 pseudo-headers included. */
  rawHeaders: readonly string[];
  client: Endpoint;
  /** TLS details when the listener terminated TLS. */
  tls: TlsInfo | null;
}

/** What is known of a TCP session when it is accepted (after the listener's TLS handshake, if any). */
export interface TcpSessionHead {
  client: Endpoint;
  tls: TlsInfo | null;
}

/** One include or exclude rule. Every condition given must hold; an absent one holds for anything. */
export interface SelectionRule {
  protocol?: 'http' | 'tcp';
  /** Upper-case methods ("*" = any). HTTP only. */
  methods?: readonly string[];
  /** Host name patterns ("*" = any characters), matched without the port, case-insensitively. HTTP only. */
  hosts?: readonly string[];
  /** Path patterns over the path without the query ("*" = one segment, "**" = any depth). HTTP only. */
  paths?: readonly string[];
  /** Lower-case header name → true (present with any value) or a value pattern ("*" = any characters). HTTP only. */
  headers?: Readonly<Record<string, true | string>>;
  /** Client addresses (IPs and CIDR ranges). */
  clients?: BlockList;
  /** Patterns over the TLS server name the client asked for; a connection without SNI does not match. */
  sni?: readonly string[];
}

/** A rule's conditions only HTTP can meet: a rule with any of them never matches a TCP session. */
const HTTP_ONLY: ReadonlyArray<keyof SelectionRule> = ['methods', 'hosts', 'paths', 'headers'];

interface HeaderCondition {
  name: string;
  /** Null: presence is enough. */
  value: PathGlob | null;
}

/**
 * The parts of a request head the rules read, each worked out on first use and kept, so several
 * rules looking at the path parse it once.
 */
export class HeadView {
  private pathValue: string | null = null;
  private hostValue: string | null | undefined;

  constructor(readonly head: HttpRequestHead) {}

  get path(): string {
    return (this.pathValue ??= pathOf(this.head.target));
  }

  /** Host name without port or brackets, lower-case: absolute-form authority, else Host, else `:authority`. */
  get host(): string | null {
    if (this.hostValue === undefined) {
      const authority = authorityOf(this.head.target) ?? this.header('host') ?? this.header(':authority');
      this.hostValue = authority === undefined ? null : hostName(authority);
    }
    return this.hostValue;
  }

  /** The first value of a header (`lower` is lower-case), or undefined. */
  header(lower: string): string | undefined {
    const raw = this.head.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === lower.length && name.toLowerCase() === lower) return raw[i + 1]!;
    }
    return undefined;
  }

  /** True when some value of the header passes `test` (or, with no test, when the header is there). */
  anyHeader(lower: string, test: PathGlob | null): boolean {
    const raw = this.head.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length !== lower.length || name.toLowerCase() !== lower) continue;
      if (test === null || test.test(raw[i + 1]!)) return true;
    }
    return false;
  }
}

/** A rule compiled once. */
export class CompiledRule {
  private readonly protocol: 'http' | 'tcp' | null;
  private readonly methods: ReadonlySet<string> | null;
  private readonly hosts: PathGlob[] | null;
  private readonly paths: PathGlob[] | null;
  private readonly headers: HeaderCondition[] | null;
  private readonly clients: BlockList | null;
  private readonly sni: PathGlob[] | null;
  private readonly httpOnly: boolean;

  constructor(rule: SelectionRule) {
    this.protocol = rule.protocol ?? null;
    const methods = rule.methods?.map((m) => m.toUpperCase());
    this.methods = methods === undefined || methods.includes('*') ? null : new Set(methods);
    this.hosts = rule.hosts?.map((h) => compileGlob(h, { kind: 'text', ignoreCase: true })) ?? null;
    this.paths = rule.paths?.map((p) => compileGlob(p)) ?? null;
    this.headers = rule.headers
      ? Object.entries(rule.headers).map(([name, v]) => ({ name: name.toLowerCase(), value: v === true ? null : compileGlob(v, { kind: 'text' }) }))
      : null;
    this.clients = rule.clients ?? null;
    this.sni = rule.sni?.map((s) => compileGlob(s, { kind: 'text', ignoreCase: true })) ?? null;
    this.httpOnly = HTTP_ONLY.some((key) => rule[key] !== undefined);
  }

  matchesHttp(view: HeadView): boolean {
    const { head } = view;
    if (this.protocol === 'tcp') return false;
    if (this.methods !== null && !this.methods.has(head.method.toUpperCase())) return false;
    if (!this.matchesConnection(head)) return false;
    if (this.paths !== null && !anyTest(this.paths, view.path)) return false;
    if (this.hosts !== null) {
      const host = view.host;
      if (host === null || !anyTest(this.hosts, host)) return false;
    }
    return this.headers === null || this.headers.every((h) => view.anyHeader(h.name, h.value));
  }

  matchesTcp(head: TcpSessionHead): boolean {
    if (this.protocol === 'http' || this.httpOnly) return false;
    return this.matchesConnection(head);
  }

  private matchesConnection(head: TcpSessionHead): boolean {
    if (this.clients !== null && !inList(this.clients, head.client.address)) return false;
    if (this.sni !== null) {
      const sni = head.tls?.sni ?? null;
      if (sni === null || !anyTest(this.sni, sni)) return false;
    }
    return true;
  }
}

function anyTest(globs: readonly PathGlob[], value: string): boolean {
  for (const g of globs) if (g.test(value)) return true;
  return false;
}

/** "::ffff:a.b.c.d" (an IPv4 client on a dual-stack listener) → "a.b.c.d", so IPv4 rules and keys see it as IPv4. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function inList(list: BlockList, address: string): boolean {
  const plain = plainAddress(address);
  const family = isIP(plain);
  return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
}

/** The authority of an absolute-form target ("http://host:80/x" → "host:80"), or undefined. */
function authorityOf(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f /* / */) return undefined;
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(target);
  return m?.[1];
}

/** "User@Example.COM:8080" → "example.com", "[::1]:80" → "::1". */
function hostName(authority: string): string {
  const at = authority.lastIndexOf('@');
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    return (close < 0 ? hostPort.slice(1) : hostPort.slice(1, close)).toLowerCase();
  }
  const colon = hostPort.lastIndexOf(':');
  return (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
}
