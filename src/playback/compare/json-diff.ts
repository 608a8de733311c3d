/**
 * Structural JSON comparison: key order is ignored, arrays compare element by element, ignored
 * paths and values redacted at record time never count, ignore patterns apply inside strings.
 */
import { replaceAtPath, type JsonPath } from '../../core/json-path.js';
import { equalsWithMarkers, isMarker } from './redaction-marks.js';
import { maskPatterns } from './rules.js';
import type { Difference } from './types.js';
import { shorten } from './format.js';

/** Stands in for every ignored value; compares equal to anything, including absence. */
const IGNORED: unique symbol = Symbol('ignored');

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Collects differences up to a cap, counting the rest. */
export class DiffList {
  readonly items: Difference[] = [];
  more = 0;
  constructor(private readonly cap: number) {}

  add(d: Difference): void {
    if (this.items.length < this.cap) this.items.push(d);
    else this.more++;
  }
}

/** Replaces what every ignore path selects by the IGNORED marker, in place. */
export function maskJsonPaths(root: unknown, paths: readonly JsonPath[]): unknown {
  let out = root;
  for (const p of paths) out = replaceAtPath(out, p, () => IGNORED);
  return out;
}

/** Compares two parsed documents (after maskJsonPaths) and adds their differences to `out`. */
export function diffJson(recorded: unknown, replayed: unknown, patterns: readonly RegExp[], out: DiffList): void {
  walk(recorded, replayed, '$', '$', patterns, out);
}

function walk(a: unknown, b: unknown, path: string, kindPath: string, patterns: readonly RegExp[], out: DiffList): void {
  if (a === IGNORED || b === IGNORED || isMarker(a)) return;
  const ta = typeName(a);
  const tb = typeName(b);
  if (ta !== tb) {
    out.add({ kind: `json ${kindPath}`, line: `${path}: ${show(a)} → ${show(b)} (${ta} → ${tb})` });
    return;
  }
  if (ta === 'array') return walkArray(a as Json[], b as Json[], path, kindPath, patterns, out);
  if (ta === 'object') return walkObject(a as Record<string, Json>, b as Record<string, Json>, path, kindPath, patterns, out);
  if (ta === 'string' && stringsEqual(a as string, b as string, patterns)) return;
  if (ta !== 'string' && a === b) return;
  out.add({ kind: `json ${kindPath}`, line: `${path}: ${show(a)} → ${show(b)}` });
}

function walkObject(
  a: Record<string, Json>,
  b: Record<string, Json>,
  path: string,
  kindPath: string,
  patterns: readonly RegExp[],
  out: DiffList,
): void {
  for (const key of Object.keys(a)) {
    const p = `${path}${member(key)}`;
    const k = `${kindPath}${member(key)}`;
    if (Object.hasOwn(b, key)) walk(a[key], b[key], p, k, patterns, out);
    else if (!skippable(a[key])) out.add({ kind: `json ${k}`, line: `${p}: ${show(a[key])} → (missing)` });
  }
  for (const key of Object.keys(b)) {
    if (Object.hasOwn(a, key) || skippable(b[key])) continue;
    const p = `${path}${member(key)}`;
    out.add({ kind: `json ${kindPath}${member(key)}`, line: `${p}: (absent) → ${show(b[key])}` });
  }
}

function walkArray(a: Json[], b: Json[], path: string, kindPath: string, patterns: readonly RegExp[], out: DiffList): void {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) walk(a[i], b[i], `${path}[${i}]`, `${kindPath}[*]`, patterns, out);
  if (a.length !== b.length) {
    out.add({ kind: `json ${kindPath}[length]`, line: `${path}: ${a.length} items → ${b.length} items` });
  }
}

function skippable(v: unknown): boolean {
  return v === IGNORED || isMarker(v);
}

function stringsEqual(a: string, b: string, patterns: readonly RegExp[]): boolean {
  if (equalsWithMarkers(a, b)) return true;
  if (patterns.length === 0) return false;
  return equalsWithMarkers(maskPatterns(a, patterns), maskPatterns(b, patterns));
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function member(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function show(v: unknown): string {
  if (v === IGNORED) return '(ignored)';
  return shorten(JSON.stringify(v) ?? String(v));
}
