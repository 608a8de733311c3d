/**
 * @module Compares one replayed HTTP answer with the recorded one: status, chosen headers, body
 * (decoded first; JSON structurally, anything else as text or bytes). Pure and synchronous: it runs
 * in the comparing thread, never on the event loop that schedules the replay.
 */
import type { RecordError } from '../../recording/model.js';
import { decodeBody, type DecodedBody } from '../../core/decode-body.js';
import { bytes } from './format.js';
import { diffHeaders } from './header-diff.js';
import { headerValue } from './headers.js';
import { DiffList, diffJson, maskJsonPaths } from './json-diff.js';
import type { CompiledRules } from './rules.js';
import { diffBodies } from './text-diff.js';
import type { CompareOutcome, ResponseSide } from './types.js';

/** Differences listed per result; the rest are counted. */
export const MAX_DIFFERENCES = 20;

/** The recorded side: the response, or why there was none (and what QProxy answered then). */
export interface RecordedOutcome {
  response: ResponseSide | null;
  status: number | null;
  error: RecordError | null;
}

/**
 * Compares a replayed response with the recorded outcome. A recorded failure (no response in zone
 * A) matches only a failure; the caller handles replays that failed themselves.
 */
export function compareHttp(recorded: RecordedOutcome, replayed: ResponseSide, rules: CompiledRules, maxDecoded: number): CompareOutcome {
  const list = new DiffList(MAX_DIFFERENCES);
  const notes: string[] = [];
  const rec = recorded.response;
  if (rec === null) {
    const why = recorded.error ? `${recorded.error.code}, answered ${recorded.status ?? 'nothing'}` : `answered ${recorded.status ?? 'nothing'}`;
    list.add({ kind: 'outcome', line: `outcome: no response was recorded (${why}) → replay got ${replayed.status}` });
    return { match: false, truncated: false, differences: list.items, more: list.more, notes };
  }
  if (rules.status && rec.status !== replayed.status) list.add({ kind: 'status', line: `status: ${rec.status} → ${replayed.status}` });
  for (const d of diffHeaders(rec.headers, replayed.headers, rules)) list.add(d);
  const truncated = rules.body ? compareBodies(rec, replayed, rules, maxDecoded, list, notes) : false;
  return { match: list.items.length === 0, truncated, differences: list.items, more: list.more, notes };
}

/** Adds body differences; returns whether the comparison was limited by truncation. */
function compareBodies(rec: ResponseSide, rep: ResponseSide, rules: CompiledRules, maxDecoded: number, list: DiffList, notes: string[]): boolean {
  const a = decodeBody(rec.body.data, rec.headers, rec.body.truncated, maxDecoded);
  const b = decodeBody(rep.body.data, rep.headers, rep.body.truncated, maxDecoded);
  for (const [side, d] of [['recorded', a], ['replayed', b]] as const) {
    if (d.problem !== null) notes.push(`${side} body compared as sent: ${d.problem}`);
  }
  const truncated = a.partial || b.partial;
  if (truncated) return comparePrefix(a, b, rules, list, notes);
  if (isJson(rec, a.data) || isJson(rep, b.data)) {
    const done = compareJson(a.data, b.data, rules, list);
    if (done) return false;
  }
  const d = diffBodies(a.data, b.data, rules.patterns, false);
  if (d) list.add(d);
  return false;
}

function comparePrefix(a: DecodedBody, b: DecodedBody, rules: CompiledRules, list: DiffList, notes: string[]): true {
  const which = a.partial ? 'recorded' : 'replayed';
  if (rules.truncated === 'skip') {
    notes.push(`${which} body was truncated: body not compared (compare.truncated = "skip")`);
    return true;
  }
  const n = Math.min(a.data.length, b.data.length);
  notes.push(`${which} body was truncated: compared the first ${bytes(n)} only`);
  const shorterRecorded = a.data.length <= b.data.length;
  const d = shorterRecorded
    ? diffBodies(a.data, b.data, rules.patterns, true)
    : diffBodies(a.data.subarray(0, n), b.data, rules.patterns, false);
  if (d) list.add(d);
  return true;
}

/** True when both parse: then the JSON verdict stands. False: compare them as text/bytes. */
export function compareJson(a: Buffer, b: Buffer, rules: CompiledRules, list: DiffList): boolean {
  let ja: unknown;
  let jb: unknown;
  try {
    ja = JSON.parse(a.toString('utf8'));
    jb = JSON.parse(b.toString('utf8'));
  } catch {
    return false;
  }
  diffJson(maskJsonPaths(ja, rules.jsonPaths), maskJsonPaths(jb, rules.jsonPaths), rules.patterns, list);
  return true;
}

function isJson(side: ResponseSide, data: Buffer): boolean {
  const type = headerValue(side.headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== undefined && (type === 'application/json' || type.endsWith('+json'))) return true;
  for (const byte of data) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b || byte === 0x5b; // "{" or "["
  }
  return false;
}
