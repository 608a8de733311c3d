/**
 * The parts of a request that serving matches on, each reduced to a short digest: method, query
 * (parameter order ignored), chosen headers and body (JSON canonicalised, key order ignored).
 * Values redacted at record time, ignored parameters and ignored JSON paths are left out, on the
 * recorded and the incoming side alike, so they never decide a match.
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { replaceAtPath, type JsonPath } from '../../core/json-path.js';
import type { HeaderLine } from '../../recording/model.js';
import { headerValue } from '../compare/headers.js';
import { isMarker } from '../compare/redaction-marks.js';
import { queryOf } from '../../core/path-glob.js';

/** `playback.serve.match` and `.ignore`, compiled. */
export interface MatchRules {
  method: boolean;
  query: boolean;
  body: boolean;
  /** Lower-case header names that must match. */
  headers: readonly string[];
  ignoreQuery: ReadonlySet<string>;
  ignoreJson: readonly JsonPath[];
}

/** What a path's recordings add to the rules: names and paths that were redacted at record time. */
export interface Wildcards {
  query: ReadonlySet<string>;
  json: readonly JsonPath[];
  /** Lengths at which recorded request bodies were truncated. */
  prefixes: ReadonlySet<number>;
}

/** A request as serving sees it. */
export interface RequestParts {
  method: string;
  /** Request target (path and query). */
  url: string;
  headers: readonly HeaderLine[];
  body: Buffer;
}

/** Per-part digests; `body` for a body truncated at `n` bytes is the digest of that prefix. */
export interface PartKeys {
  method: string;
  query: string;
  headers: string;
  body: string;
}

const DROP: unique symbol = Symbol('drop');

function digest(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function queryKey(url: string, rules: MatchRules, w: Wildcards): string {
  if (!rules.query) return '';
  const pairs: Array<[string, string]> = [];
  for (const part of queryOf(url).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const lower = name.toLowerCase();
    if (rules.ignoreQuery.has(lower) || w.query.has(lower)) continue;
    pairs.push([name, eq < 0 ? '' : decode(part.slice(eq + 1))]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.length === 0 ? '' : digest(JSON.stringify(pairs));
}

function headersKey(lines: readonly HeaderLine[], rules: MatchRules): string {
  if (rules.headers.length === 0) return '';
  const values = rules.headers.map((name) => {
    const v = headerValue(lines, name);
    return v === undefined || isMarker(v) ? null : v;
  });
  return digest(JSON.stringify(values));
}

/** JSON with sorted keys; dropped members vanish. */
function canonical(value: unknown): string {
  if (value === DROP) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== DROP)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function looksJson(headers: readonly HeaderLine[], body: Buffer): boolean {
  const type = headerValue(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json' || type?.endsWith('+json')) return true;
  const first = body.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  return first === 0x7b || first === 0x5b;
}

/** Digest of a whole body (JSON canonicalised when it parses). */
export function bodyKey(body: Buffer, headers: readonly HeaderLine[], rules: MatchRules, w: Wildcards): string {
  if (!rules.body || body.length === 0) return '';
  if (looksJson(headers, body) && isUtf8(body)) {
    try {
      let root: unknown = JSON.parse(body.toString('utf8'));
      for (const p of [...rules.ignoreJson, ...w.json]) root = replaceAtPath(root, p, () => DROP);
      root = dropMarkers(root);
      return `j${digest(canonical(root))}`;
    } catch {
      // not JSON after all: compared as bytes
    }
  }
  return `b${digest(body)}`;
}

/** Redacted values anywhere in a recorded document never decide a match. */
function dropMarkers(node: unknown): unknown {
  if (isMarker(node)) return DROP;
  if (Array.isArray(node)) return node.map(dropMarkers);
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = dropMarkers(v);
    return out;
  }
  return node;
}

/** Digest of the first `n` body bytes, for recordings whose body was truncated there. */
export function prefixKey(body: Buffer, n: number): string {
  return `p${n}:${digest(body.subarray(0, n))}`;
}

export function partKeys(req: RequestParts, rules: MatchRules, w: Wildcards, bodyTruncatedAt: number | null): PartKeys {
  return {
    method: rules.method ? req.method.toUpperCase() : '',
    query: queryKey(req.url, rules, w),
    headers: headersKey(req.headers, rules),
    body: bodyTruncatedAt === null ? bodyKey(req.body, req.headers, rules, w) : rules.body ? prefixKey(req.body, bodyTruncatedAt) : '',
  };
}

export function joinKeys(k: PartKeys): string {
  return `${k.method}|${k.query}|${k.headers}|${k.body}`;
}
