/**
 * @module The recorded and the replayed answer of one record laid side by side, field by field, with
 * what the comparison rules leave out marked: the view behind the web UI's diff. It applies the
 * same rules as compare-http.ts (header selection, ignore lists and patterns, redaction markers as
 * wildcards) but keeps every value instead of stopping at the differences. Computed for one record
 * at a time, on request.
 */
import type { HeaderLine } from '../../recording/model.js';
import { decodeBody } from '../../core/decode-body.js';
import { byName, compared, same } from './header-diff.js';
import { maskJsonPaths } from './json-diff.js';
import { equalsWithMarkers, isMarker } from './redaction-marks.js';
import { compileRules, maskPatterns, type CompiledRules } from './rules.js';
import type { CompareOptions, ResponseSide } from './types.js';
import type { FieldRow, FieldState, SideBySide } from '../../core/documents.js';

export type { FieldRow, FieldState, SideBySide };

/** Leaf rows listed at most; more are counted. */
export const MAX_FIELDS = 2000;
const MAX_VALUE = 500;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Both answers and the rules of the replay; `maxDecoded` bounds decompression. */
export function sideBySide(recorded: ResponseSide, replayed: ResponseSide, options: CompareOptions, maxDecoded: number): SideBySide {
  const rules = compileRules(options);
  const notes: string[] = [];
  return {
    status: { recorded: recorded.status, replayed: replayed.status, compared: rules.status, differs: recorded.status !== replayed.status },
    headers: headerRows(recorded.headers, replayed.headers, rules),
    body: rules.body ? bodyView(recorded, replayed, rules, maxDecoded, notes) : { kind: 'not_compared' },
    notes,
  };
}

function headerRows(a: readonly HeaderLine[], b: readonly HeaderLine[], rules: CompiledRules): FieldRow[] {
  const ra = byName(a);
  const rb = byName(b);
  const names = [...new Set([...ra.keys(), ...rb.keys()])].sort();
  return names.map((name) => {
    const recorded = ra.get(name) ?? null;
    const replayed = rb.get(name) ?? null;
    let state: FieldState;
    if (!compared(name, rules)) state = 'ignored';
    else if (recorded !== null && isMarker(recorded)) state = 'redacted';
    else state = recorded !== null && replayed !== null && same(recorded, replayed, rules.patterns) ? 'same' : 'differs';
    return { name, recorded, replayed, state };
  });
}

function bodyView(rec: ResponseSide, rep: ResponseSide, rules: CompiledRules, maxDecoded: number, notes: string[]): SideBySide['body'] {
  const a = decodeBody(rec.body.data, rec.headers, rec.body.truncated, maxDecoded);
  const b = decodeBody(rep.body.data, rep.headers, rep.body.truncated, maxDecoded);
  for (const [side, d] of [['recorded', a], ['replayed', b]] as const) {
    if (d.problem !== null) notes.push(`${side} body shown as sent: ${d.problem}`);
    if (d.partial) notes.push(`${side} body is cut short (truncated when kept): only its start is shown`);
  }
  const ja = parseJson(a.data);
  const jb = parseJson(b.data);
  if (ja.ok && jb.ok && !a.partial && !b.partial) return jsonView(ja.value, jb.value, rules);
  const differs = !(a.data.equals(b.data) || textEqual(a.data, b.data, rules.patterns));
  return { kind: 'other', differs };
}

function parseJson(data: Buffer): { ok: true; value: unknown } | { ok: false } {
  if (data.length === 0) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(data.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function textEqual(a: Buffer, b: Buffer, patterns: readonly RegExp[]): boolean {
  const ta = a.toString('utf8');
  const tb = b.toString('utf8');
  return equalsWithMarkers(maskPatterns(ta, patterns), maskPatterns(tb, patterns));
}

function jsonView(ja: unknown, jb: unknown, rules: CompiledRules): SideBySide['body'] {
  const leavesA = new Map<string, unknown>();
  const leavesB = new Map<string, unknown>();
  flatten(ja, '$', leavesA);
  flatten(jb, '$', leavesB);
  // Masking replaces what an ignore path selects by a marker; those paths (and what is under them) are ignored.
  const ignored = new Set<string>();
  markedPaths(maskJsonPaths(structuredClone(ja), rules.jsonPaths), ja, '$', ignored);
  markedPaths(maskJsonPaths(structuredClone(jb), rules.jsonPaths), jb, '$', ignored);
  const names = [...leavesA.keys(), ...[...leavesB.keys()].filter((k) => !leavesA.has(k))];
  const fields: FieldRow[] = [];
  for (const name of names.slice(0, MAX_FIELDS)) {
    const va = leavesA.get(name);
    const vb = leavesB.get(name);
    const hasA = leavesA.has(name);
    const hasB = leavesB.has(name);
    let state: FieldState;
    if (underAny(name, ignored)) state = 'ignored';
    else if (hasA && isMarker(va)) state = 'redacted';
    else state = hasA && hasB && leafEqual(va, vb, rules.patterns) ? 'same' : 'differs';
    fields.push({ name, recorded: hasA ? show(va) : null, replayed: hasB ? show(vb) : null, state });
  }
  return { kind: 'json', fields, more: Math.max(0, names.length - MAX_FIELDS) };
}

/** Leaf values by path; empty objects and arrays are leaves too. */
function flatten(v: unknown, path: string, out: Map<string, unknown>): void {
  if (Array.isArray(v) && v.length > 0) {
    v.forEach((item, i) => flatten(item, `${path}[${i}]`, out));
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    for (const [k, item] of Object.entries(v)) flatten(item, `${path}${member(k)}`, out);
  } else {
    out.set(path, v);
  }
}

/** Paths where the masked copy differs from the original by identity: there the mask put its marker. */
function markedPaths(masked: unknown, original: unknown, path: string, out: Set<string>): void {
  if (masked === original) return;
  if (typeof masked === 'symbol') {
    out.add(path);
    return;
  }
  if (Array.isArray(masked) && Array.isArray(original)) {
    masked.forEach((item, i) => markedPaths(item, original[i], `${path}[${i}]`, out));
  } else if (masked !== null && typeof masked === 'object' && original !== null && typeof original === 'object') {
    for (const [k, item] of Object.entries(masked)) markedPaths(item, (original as Record<string, unknown>)[k], `${path}${member(k)}`, out);
  }
}

function underAny(path: string, prefixes: ReadonlySet<string>): boolean {
  for (const p of prefixes) {
    if (path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`)) return true;
  }
  return false;
}

function leafEqual(a: unknown, b: unknown, patterns: readonly RegExp[]): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    return equalsWithMarkers(a, b) || (patterns.length > 0 && equalsWithMarkers(maskPatterns(a, patterns), maskPatterns(b, patterns)));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function member(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
}
