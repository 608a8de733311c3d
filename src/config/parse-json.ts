/**
 * JSON.parse with errors an operator can act on: `config.json:4:3: invalid JSON — expected ',' or '}'
 * after property value`. Node 20's V8 gives a position for most syntax errors but not for
 * "Unexpected token" ones, so that case is located by parsing growing prefixes.
 */
import { ConfigError, errorMessage } from '../core/errors.js';

/**
 * Parses `text` (a leading byte-order mark is ignored).
 *
 * @param label the file name shown in the error, e.g. "config.json".
 * @throws ConfigError `label:line:column: invalid JSON — reason`.
 */
export function parseJson(text: string, label: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    const reason = errorMessage(err);
    const offset = errorOffset(body, reason);
    const before = body.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    const hint = body[offset] === '/' ? ' (comments are not allowed in JSON)' : '';
    throw new ConfigError(`${label}:${line}:${column}: invalid JSON — ${plainReason(reason)}${hint}`, { cause: err });
  }
}

function plainReason(reason: string): string {
  if (/^Unexpected end of JSON input/.test(reason)) return 'the file ends before the JSON value is complete';
  const token = /^Unexpected token '(.+?)', .* is not valid JSON$/s.exec(reason);
  if (token) return `unexpected ${JSON.stringify(token[1])}`;
  const text = reason.replace(/(?: in JSON)? at position \d+.*$/s, '');
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function positionIn(reason: string): number | undefined {
  const m = /at position (\d+)/.exec(reason);
  return m ? Number(m[1]) : undefined;
}

/** Offset of the offending character. */
function errorOffset(body: string, reason: string): number {
  const given = positionIn(reason);
  if (given !== undefined) return Math.min(given, body.length);
  if (body.trim() === '') return body.length;
  // Invariant: the prefix of length `ok` could still become valid JSON; the prefix of length `bad`
  // cannot. The first character of `bad` beyond `ok` is the culprit.
  let ok = 0;
  let bad = body.length;
  while (bad - ok > 1) {
    const mid = (ok + bad) >>> 1;
    if (failsWithin(body.slice(0, mid))) bad = mid;
    else ok = mid;
  }
  return bad - 1;
}

/** True when the prefix has an error before its end (not merely "input ended too early"). */
function failsWithin(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return false;
  } catch (err) {
    const reason = errorMessage(err);
    if (/end of JSON input|^Unterminated string/.test(reason)) return false;
    const at = positionIn(reason);
    return at === undefined || at < prefix.length;
  }
}
