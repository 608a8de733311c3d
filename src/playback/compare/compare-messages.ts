/**
 * Compares a replayed protocol session with the recorded one answer by answer, message by
 * message, part by part. An answer is the server's messages up to one that ends it (PostgreSQL
 * ReadyForQuery, a Redis reply, the last packet of a MySQL response); the n-th recorded answer is
 * compared with the n-th replayed one, and a difference names the request it answered:
 *
 *   #42 Query "SELECT abalance FROM …" → DataRow 1 col 0: 1234 → 1240
 *
 * The openings (start-up, authentication) are the replay's own and are not compared, except
 * PostgreSQL's ParameterStatus values, which are compared by name.
 */
import { isUtf8 } from 'node:buffer';
import { bytesFrom, readConversation, type Conversation, type Exchange } from '../../protocols/conversation.js';
import { protocolModule } from '../../protocols/registry.js';
import type { FieldValue, MessageFields, ProtocolModule, WireMessage } from '../../protocols/types.js';
import type { AppProtocol, TcpChunk } from '../../recording/model.js';
import { bytes, shorten } from './format.js';
import { maskPatterns } from './rules.js';
import { diffBodies } from './text-diff.js';
import type { CompareOutcome, Difference } from './types.js';

/** `playback.tcp.ignore` as configured. */
export interface MessageIgnore {
  defaults: boolean;
  messages: readonly string[];
  requests: readonly string[];
  patterns: readonly string[];
}

/** The ignore rules of one protocol, compiled once per replay. */
export interface CompiledIgnore {
  /** Message names never compared. */
  types: ReadonlySet<string>;
  /** Parts never compared, by message name. */
  labels: ReadonlyMap<string, ReadonlySet<string>>;
  requests: readonly RegExp[];
  patterns: readonly RegExp[];
}

export function compileIgnore(protocol: AppProtocol, o: MessageIgnore): CompiledIgnore {
  const d = protocolModule(protocol).defaults;
  const selectors = [...(o.defaults ? d.messages : []), ...o.messages];
  const types = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const s of selectors) {
    const at = s.indexOf(':');
    if (at < 0) types.add(s);
    else {
      const type = s.slice(0, at);
      const set = labels.get(type) ?? new Set<string>();
      set.add(s.slice(at + 1));
      labels.set(type, set);
    }
  }
  return {
    types,
    labels,
    requests: [...(o.defaults ? d.requests : []), ...o.requests].map((r) => new RegExp(r)),
    patterns: o.patterns.map((p) => new RegExp(p, 'g')),
  };
}

/** Differences listed per session; the rest are counted. */
const MAX_LINES = 20;
/** Differences listed per answer. */
const MAX_PER_ANSWER = 3;
/** Message kinds whose position in a run is always shown ("DataRow 1"). */
const ROWS: ReadonlySet<string> = new Set(['DataRow', 'Row', 'BinaryRow']);

interface Read {
  m: WireMessage;
  fields: MessageFields | null;
}

/** The server's answers of one side, each with the exchange it began in. */
interface Answer {
  exchange: Exchange;
  messages: Read[];
}

function answers(conv: Conversation, mod: ProtocolModule): { answers: Answer[]; malformed: number } {
  const reader = mod.fieldReader();
  const out: Answer[] = [];
  let current: Answer | null = null;
  let malformed = 0;
  for (const e of conv.exchanges) {
    for (const m of e.request) reader.request(m);
    for (const m of e.answer) {
      let fields: MessageFields | null = null;
      try {
        fields = reader.fields(m);
      } catch {
        malformed++;
      }
      current ??= { exchange: e, messages: [] };
      current.messages.push({ m, fields });
      if (m.end) {
        out.push(current);
        current = null;
      }
    }
  }
  if (current !== null) out.push(current);
  return { answers: out, malformed };
}

class Report {
  readonly differences: Difference[] = [];
  more = 0;
  readonly notes: string[] = [];

  add(kind: string, line: string): void {
    if (this.differences.length < MAX_LINES) this.differences.push({ kind, line });
    else this.more++;
  }
}

export interface SessionSides {
  recorded: readonly TcpChunk[];
  replayed: readonly TcpChunk[];
  /** The recording kept a prefix only (session byte cap). */
  recordedTruncated: boolean;
  /** The replay kept a prefix of the server's bytes only. */
  replayedTruncated: boolean;
}

/** Compares a replayed session with its recording, message by message. */
export function compareMessages(protocol: AppProtocol, sides: SessionSides, ignore: CompiledIgnore): CompareOutcome {
  const mod = protocolModule(protocol);
  const rec = readConversation(protocol, sides.recorded);
  const rep = readConversation(protocol, sides.replayed);
  const report = new Report();
  const a = answers(rec, mod);
  const b = answers(rep, mod);
  if (a.malformed + b.malformed > 0) report.notes.push(`${a.malformed + b.malformed} malformed messages were compared as a whole`);
  if (protocol === 'postgres') compareParameters(rec, rep, ignore, report);
  const prefix = sides.recordedTruncated || sides.replayedTruncated;
  const n = prefix ? Math.min(a.answers.length, b.answers.length) : Math.max(a.answers.length, b.answers.length);
  let skipped = 0;
  const requestName = requestNamer(rec, mod);
  for (let i = 0; i < n; i++) {
    const x = a.answers[i];
    const y = b.answers[i];
    if (x === undefined) {
      report.add('extra answer', `the replay got ${b.answers.length - a.answers.length} answers more than the recording; the first: ${mod.describe(y!.messages[0]!.m)}`);
      break;
    }
    const name = `#${x.exchange.n} ${requestName(x.exchange)}`;
    if (ignoredRequest(x.exchange, mod, ignore)) {
      skipped++;
      continue;
    }
    if (y === undefined) {
      report.add('missing answer', `${name} → no answer in the replay (recorded: ${mod.describe(x.messages[0]!.m)}); ${a.answers.length - i} answers missing`);
      break;
    }
    compareAnswer(name, x.messages, y.messages, mod, ignore, report);
  }
  compareTails(rec, rep, sides, report);
  if (skipped > 0) report.notes.push(`${skipped} answers not compared (playback.tcp.ignore.requests)`);
  if (sides.recordedTruncated) report.notes.push(`recorded session was truncated: compared its first ${a.answers.length} answers`);
  if (sides.replayedTruncated) report.notes.push(`the replay kept the server's first ${bytes(sides.replayed.filter((c) => c.dir === 's2c').reduce((s, c) => s + c.data.length, 0))}: compared ${n} answers`);
  return { match: report.differences.length === 0, truncated: prefix, differences: report.differences, more: report.more, notes: report.notes };
}

/**
 * How requests are named in a diff: by the client message that says most about them, and a
 * prepared statement's execution by the statement's text (PostgreSQL Parse name, MySQL
 * COM_STMT_PREPARE id), which the execution itself does not carry.
 */
function requestNamer(conv: Conversation, mod: ProtocolModule): (e: Exchange) => string {
  const statements = new Map<string, string>();
  for (const e of conv.exchanges) {
    for (const m of e.request) {
      if (m.type !== 'Parse') continue;
      const name = m.data.toString('utf8', 5, m.data.indexOf(0, 5));
      statements.set(`pg:${name}`, mod.describe(m).replace(/^Parse(?: \S+)? /, ''));
    }
    const prepare = e.request.find((m) => m.type === 'COM_STMT_PREPARE');
    const ok = e.answer.find((m) => m.type === 'StmtPrepareOK');
    if (prepare !== undefined && ok !== undefined && ok.data.length >= 9) statements.set(`my:${ok.data.readUInt32LE(5)}`, mod.describe(prepare).replace(/^COM_STMT_PREPARE /, ''));
  }
  return (e) => {
    if (e.request.length === 0) return '(no request)';
    const main = e.request.find((m) => m.type === 'Query' || m.type === 'Parse' || m.type.startsWith('COM_')) ?? e.request.find((m) => m.type === 'Bind') ?? e.request[0]!;
    const more = e.request.length > 1 ? ` (+${e.request.length - 1} messages)` : '';
    let text: string | undefined;
    if (main.type === 'Bind') text = statements.get(`pg:${main.data.toString('utf8', main.data.indexOf(0, 5) + 1, main.data.indexOf(0, main.data.indexOf(0, 5) + 1))}`);
    else if (main.type === 'COM_STMT_EXECUTE' && main.data.length >= 9) text = statements.get(`my:${main.data.readUInt32LE(5)}`);
    return text === undefined ? `${mod.describe(main)}${more}` : `${main.type} ${text}${more}`;
  };
}

function ignoredRequest(e: Exchange, mod: ProtocolModule, ignore: CompiledIgnore): boolean {
  if (ignore.requests.length === 0) return false;
  return e.request.some((m) => {
    const text = mod.describe(m, true);
    return ignore.requests.some((r) => r.test(text));
  });
}

interface Run {
  type: string;
  reads: Read[];
}

function runs(reads: readonly Read[], ignore: CompiledIgnore): Run[] {
  const out: Run[] = [];
  for (const r of reads) {
    if (ignore.types.has(r.m.type)) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.type === r.m.type) last.reads.push(r);
    else out.push({ type: r.m.type, reads: [r] });
  }
  return out;
}

function compareAnswer(name: string, recorded: readonly Read[], replayed: readonly Read[], mod: ProtocolModule, ignore: CompiledIgnore, report: Report): void {
  const x = runs(recorded, ignore);
  const y = runs(replayed, ignore);
  let lines = 0;
  const add = (kind: string, what: string): boolean => {
    if (lines++ >= MAX_PER_ANSWER) return false;
    report.add(kind, `${name} → ${what}`);
    return true;
  };
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined || p.type !== q.type) {
      const show = (r: Run | undefined): string => (r === undefined ? '(nothing)' : mod.describe(r.reads[0]!.m));
      add('messages', `${show(p)} → ${show(q)}`);
      return;
    }
    if (p.reads.length !== q.reads.length) add(`${p.type} count`, `${p.type} count: ${p.reads.length} → ${q.reads.length}`);
    const rows = ROWS.has(p.type) || p.reads.length > 1 || q.reads.length > 1;
    for (let j = 0; j < Math.min(p.reads.length, q.reads.length); j++) {
      const label = rows ? `${p.type} ${j + 1}` : p.type;
      for (const d of fieldDiffs(p.reads[j]!, q.reads[j]!, ignore)) {
        if (!add(p.type, d === '' ? label : `${label}${d}`)) return;
      }
    }
  }
}

/** The differing parts of two messages of one type, each as " col 0: 1234 → 1240". */
function fieldDiffs(a: Read, b: Read, ignore: CompiledIgnore): string[] {
  if (a.fields === null || b.fields === null) {
    return a.m.data.equals(b.m.data) ? [] : [`: ${bytes(a.m.data.length)} → ${bytes(b.m.data.length)} (malformed)`];
  }
  const skip = ignore.labels.get(a.m.type);
  const out: string[] = [];
  if (a.fields.length !== b.fields.length) {
    out.push(`: ${a.fields.length} parts → ${b.fields.length} parts`);
    return out;
  }
  for (let i = 0; i < a.fields.length; i++) {
    const [label, x] = a.fields[i]!;
    const [otherLabel, y] = b.fields[i]!;
    if (skip?.has(label) === true) continue;
    if (label !== otherLabel) {
      out.push(`: ${label} → ${otherLabel}`);
      continue;
    }
    if (!sameValue(x, y, ignore.patterns)) out.push(`${label === '' ? '' : ` ${label}`}: ${show(x)} → ${show(y)}`);
  }
  return out;
}

function asBytes(v: FieldValue): Buffer | null {
  if (v === null) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  return v.bytes;
}

function sameValue(x: FieldValue, y: FieldValue, patterns: readonly RegExp[]): boolean {
  const a = asBytes(x);
  const b = asBytes(y);
  if (a === null || b === null) return a === b;
  if (a.equals(b)) return true;
  if (patterns.length === 0 || !isUtf8(a) || !isUtf8(b)) return false;
  return maskPatterns(a.toString('utf8'), patterns) === maskPatterns(b.toString('utf8'), patterns);
}

function show(v: FieldValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return shorten(v === '' || v !== v.trim() || /[\u0000-\u001f"]/.test(v) ? JSON.stringify(v) : v, 60);
  if (Buffer.isBuffer(v)) {
    if (isUtf8(v)) {
      const s = v.toString('utf8');
      return shorten(/^[\w.:@/+-]+$/.test(s) ? s : JSON.stringify(s), 60);
    }
    return `0x${v.subarray(0, 24).toString('hex')}${v.length > 24 ? '…' : ''}`;
  }
  return shorten(v.text, 60);
}

function parameters(conv: Conversation): Map<string, string> {
  const out = new Map<string, string>();
  const reader = protocolModule('postgres').fieldReader();
  for (const m of conv.opening.server) {
    if (m.type !== 'ParameterStatus') continue;
    try {
      const [[name, value]] = reader.fields(m) as [[string, string]];
      out.set(name, value);
    } catch {
      // a malformed ParameterStatus is left out of this check; its bytes are in the record
    }
  }
  return out;
}

/** PostgreSQL's start-up ParameterStatus values, by name (the order is the server's business). */
function compareParameters(rec: Conversation, rep: Conversation, ignore: CompiledIgnore, report: Report): void {
  if (ignore.types.has('ParameterStatus')) return;
  const skip = ignore.labels.get('ParameterStatus');
  const a = parameters(rec);
  const b = parameters(rep);
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    if (skip?.has(name) === true) continue;
    const x = a.get(name) ?? null;
    const y = b.get(name) ?? null;
    if (!sameValue(x, y, ignore.patterns)) report.add('ParameterStatus', `#0 StartupMessage → ParameterStatus ${name}: ${show(x)} → ${show(y)}`);
  }
}

/** After a framing break the rest of the server's bytes are compared as bytes. */
function compareTails(rec: Conversation, rep: Conversation, sides: SessionSides, report: Report): void {
  const a = rec.breaks.s2c;
  const b = rep.breaks.s2c;
  const real = (k: string | undefined): boolean => k !== undefined && k !== 'incomplete';
  if (!real(a?.kind) && !real(b?.kind)) {
    if (a?.kind === 'incomplete' && !sides.recordedTruncated) report.notes.push(`the recorded server bytes end inside a message (${a.reason})`);
    return;
  }
  if (a !== null && b !== null && real(a.kind) && real(b.kind)) {
    const d = diffBodies(bytesFrom(sides.recorded, 's2c', a.offset), bytesFrom(sides.replayed, 's2c', b.offset), [], sides.recordedTruncated);
    report.notes.push(`the server's bytes stopped being messages (${a.reason}): the rest was compared as bytes`);
    if (d !== null) report.add('raw bytes', d.line.replace(/^body/, 'server bytes after the messages'));
    return;
  }
  const which = real(a?.kind) ? `the recording's server bytes stopped being messages at byte ${a!.offset} (${a!.reason}); the replay's did not` : `the replay's server bytes stopped being messages at byte ${b!.offset} (${b!.reason}); the recording's did not`;
  report.add('framing', which);
}
