import { compileJsonPath, type JsonPath } from '../../core/json-path.js';
import type { CompareOptions } from './types.js';
import { HOP_AND_FRAMING_FIELDS } from '../../core/http-fields.js';

/** Headers never compared: hop-by-hop (RFC 9110 §7.6.1) and framing, which follow the body. */
export const NEVER_COMPARED: ReadonlySet<string> = HOP_AND_FRAMING_FIELDS;

/** Comparison rules compiled once per replay (in the comparing thread). */
export interface CompiledRules {
  status: boolean;
  /** Null = every header ("*"). */
  headers: ReadonlySet<string> | null;
  ignoreHeaders: ReadonlySet<string>;
  body: boolean;
  jsonPaths: readonly JsonPath[];
  /** Global regexes; what they match is replaced by a placeholder on both sides. */
  patterns: readonly RegExp[];
  truncated: 'prefix' | 'skip';
}

/** @throws ConfigError for an unsupported JSON path; regexes were validated with the config. */
export function compileRules(o: CompareOptions): CompiledRules {
  const all = o.headers.includes('*');
  return {
    status: o.status,
    headers: all ? null : new Set(o.headers.map((h) => h.toLowerCase())),
    ignoreHeaders: new Set(o.ignore.headers.map((h) => h.toLowerCase())),
    body: o.body,
    jsonPaths: o.ignore.json_paths.map(compileJsonPath),
    patterns: o.ignore.patterns.map((p) => new RegExp(p, 'g')),
    truncated: o.truncated,
  };
}

/** Placeholder that replaces every ignored match, on both sides alike. */
export const IGNORED_TEXT = '\u0000ignored\u0000';

/** Applies the ignore patterns to a text; the same text comes back when nothing matched. */
export function maskPatterns(text: string, patterns: readonly RegExp[]): string {
  let out = text;
  for (const p of patterns) {
    p.lastIndex = 0;
    out = out.replace(p, IGNORED_TEXT);
  }
  return out;
}
