import { isUtf8 } from 'node:buffer';
import { replaceAtPath, setChild, type JsonPath } from '../core/json-path.js';
import type { CapturedBody } from './model.js';
import type { Digest } from './redaction-digest.js';
import { redactUrlEncoded } from './urlencoded-redaction.js';

/** The body rules of a Redactor, compiled once. */
export interface BodyRules {
  /** Form field names (the query parameter list), lowercase. */
  formNames: ReadonlySet<string>;
  jsonPaths: readonly JsonPath[];
  /** Compiled with the "g" and "d" flags; group 1, when the pattern has groups, is what gets replaced. */
  patterns: readonly RegExp[];
}

/** How a body can be read, from its media type. */
type BodyKind = 'json' | 'form' | 'text' | 'other';

/** Where a body sits ("request" or "response") and the headers that tell how to read it. */
export interface BodyContext {
  side: 'request' | 'response';
  contentType: string | undefined;
  contentEncoding: string | undefined;
}

/**
 * Applies the body rules that fit the body's media type: JSON paths (JSON, complete bodies only),
 * form field names (urlencoded forms), then patterns (any text body). Compressed bodies are not
 * decoded on the hot path: they are left alone and reported as `<side>.body:skipped-encoded`. JSON
 * bodies that cannot be redacted are reported as `:skipped-truncated` or `:skipped-invalid`.
 *
 * @returns the same body object when nothing changed (no copy), else a new one.
 */
export function redactBody(
  body: CapturedBody,
  ctx: BodyContext,
  rules: BodyRules,
  digest: Digest,
  report: (path: string) => void,
): CapturedBody {
  if (body.data.length === 0) return body;
  const kind = bodyKind(ctx.contentType);
  if (!rulesApply(kind, rules)) return body;
  if (isEncoded(ctx.contentEncoding)) {
    report(`${ctx.side}.body:skipped-encoded`);
    return body;
  }
  const utf8 = isUtf8(body.data);
  // latin1 maps bytes 1:1, so a body that is not UTF-8 survives the round trip unchanged.
  const encoding = utf8 ? 'utf8' : 'latin1';
  const text = body.data.toString(encoding);
  let out = text;
  if (kind === 'json' && rules.jsonPaths.length > 0) out = redactJson(out, body, utf8, ctx.side, rules, digest, report);
  if (kind === 'form' && rules.formNames.size > 0) {
    const hit = (name: string): void => report(`${ctx.side}.body.form.${name}`);
    out = redactUrlEncoded(out, rules.formNames, digest, hit) ?? out;
  }
  rules.patterns.forEach((pattern, i) => {
    const replaced = replaceMatches(out, pattern, digest);
    if (replaced === null) return;
    out = replaced;
    report(`${ctx.side}.body/pattern:${i}`);
  });
  if (out === text) return body;
  const data = Buffer.from(out, encoding);
  // `size` keeps counting bytes not kept, so size - data.length is still what truncation cut off.
  const size = body.truncated ? body.size - body.data.length + data.length : data.length;
  return { data, size, truncated: body.truncated };
}

function redactJson(
  text: string,
  body: CapturedBody,
  utf8: boolean,
  side: BodyContext['side'],
  rules: BodyRules,
  digest: Digest,
  report: (path: string) => void,
): string {
  if (body.truncated) {
    report(`${side}.body:skipped-truncated`);
    return text;
  }
  let root: unknown;
  try {
    if (!utf8) throw new SyntaxError('JSON text must be UTF-8 (RFC 8259 §8.1)');
    root = JSON.parse(text);
  } catch {
    report(`${side}.body:skipped-invalid`);
    return text;
  }
  let changedAny = false;
  for (const path of rules.jsonPaths) {
    const state = { changed: false };
    root = replaceAtPath(root, path, (v) => redactJsonValue(v, digest, state));
    if (!state.changed) continue;
    changedAny = true;
    report(`${side}.body${path.source}`);
  }
  return changedAny ? JSON.stringify(root) : text;
}

/** Strings and numbers become replacement strings; objects and arrays have their leaves replaced; true/false/null are kept. */
function redactJsonValue(value: unknown, digest: Digest, state: { changed: boolean }): unknown {
  if (typeof value === 'string' || typeof value === 'number') {
    state.changed = true;
    return digest(String(value));
  }
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = redactJsonValue(value[i], digest, state);
    return value;
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) setChild(obj, key, redactJsonValue(obj[key], digest, state));
  return obj;
}

/** Replaces each non-empty match (or its group 1) with its digest; null when nothing matched. */
function replaceMatches(text: string, pattern: RegExp, digest: Digest): string | null {
  let out = '';
  let last = 0;
  let changed = false;
  for (const m of text.matchAll(pattern)) {
    const span: [number, number] | undefined = m.length > 1 ? m.indices?.[1] : [m.index, m.index + m[0].length];
    // A group that did not take part, or an empty match, has nothing to hide.
    if (span === undefined || span[1] <= span[0]) continue;
    const [start, end] = span;
    out += text.slice(last, start) + digest(text.slice(start, end));
    last = end;
    changed = true;
  }
  return changed ? out + text.slice(last) : null;
}

function rulesApply(kind: BodyKind, rules: BodyRules): boolean {
  const patterns = rules.patterns.length > 0;
  switch (kind) {
    case 'json':
      return patterns || rules.jsonPaths.length > 0;
    case 'form':
      return patterns || rules.formNames.size > 0;
    case 'text':
      return patterns;
    case 'other':
      return false;
  }
}

function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return 'other';
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (type.startsWith('text/') || type === 'application/xml' || type.endsWith('+xml')) return 'text';
  return 'other';
}

function isEncoded(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return false;
  const coding = contentEncoding.trim().toLowerCase();
  return coding !== '' && coding !== 'identity';
}
