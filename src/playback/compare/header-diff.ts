import type { HeaderLine } from '../../recording/model.js';
import { shorten } from './format.js';
import { equalsWithMarkers } from './redaction-marks.js';
import { NEVER_COMPARED, maskPatterns, type CompiledRules } from './rules.js';
import type { Difference } from './types.js';

/** Header values by lower-case name; repeated fields joined as one field would be (RFC 9110 §5.3). */
export function byName(lines: readonly HeaderLine[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of lines) {
    const lower = name.toLowerCase();
    const prev = map.get(lower);
    map.set(lower, prev === undefined ? value : `${prev}, ${value}`);
  }
  return map;
}

export function compared(name: string, rules: CompiledRules): boolean {
  if (NEVER_COMPARED.has(name) || rules.ignoreHeaders.has(name)) return false;
  return rules.headers === null || rules.headers.has(name);
}

export function same(a: string, b: string, patterns: readonly RegExp[]): boolean {
  if (equalsWithMarkers(a, b)) return true;
  return patterns.length > 0 && equalsWithMarkers(maskPatterns(a, patterns), maskPatterns(b, patterns));
}

/** Differences in the compared headers; a header absent on one side differs from one present. */
export function diffHeaders(recorded: readonly HeaderLine[], replayed: readonly HeaderLine[], rules: CompiledRules): Difference[] {
  const a = byName(recorded);
  const b = byName(replayed);
  const names = new Set([...a.keys(), ...b.keys()]);
  const out: Difference[] = [];
  for (const name of [...names].sort()) {
    if (!compared(name, rules)) continue;
    const va = a.get(name);
    const vb = b.get(name);
    if (va !== undefined && vb !== undefined && same(va, vb, rules.patterns)) continue;
    const show = (v: string | undefined): string => (v === undefined ? '(absent)' : shorten(JSON.stringify(v)));
    out.push({ kind: `header ${name}`, line: `header ${name}: ${show(va)} → ${show(vb)}` });
  }
  return out;
}
