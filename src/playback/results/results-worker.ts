/**
 * Entry of the results thread: it compares replayed answers with the recorded ones (decoding, JSON
 * parsing and diffing stay off the event loop that schedules the replay) and writes the results to
 * the results file in group commits. Messages are handled strictly in order.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { compareHttp, type RecordedOutcome } from '../compare/compare-http.js';
import { compareTcp } from '../compare/compare-tcp.js';
import { compareWebSocket } from '../compare/compare-websocket.js';
import { compareMessages, compileIgnore, type CompiledIgnore, type MessageIgnore } from '../compare/compare-messages.js';
import type { AppProtocol, TcpChunk } from '../../recording/model.js';
import { compileRules, type CompiledRules } from '../compare/rules.js';
import type { CompareOutcome, ResponseSide } from '../compare/types.js';
import type { FromResults, ResultsInit, ToResults } from './protocol.js';
import type { ReplayResult, ResultBase } from './result.js';
import { ResultsWriterDb, type AnswerRow, type ReplayRow } from './writer-db.js';

const BATCH_ROWS = 500;

const port = parentPort as MessagePort;
const init = workerData as ResultsInit;
/** Replies wait for the end of the batch being handled and go back in one postMessage. */
let replies: FromResults[] = [];
const post = (msg: FromResults): void => {
  replies.push(msg);
};
function sendReplies(): void {
  if (replies.length === 0) return;
  const out = replies;
  replies = [];
  port.postMessage(out);
}

let db!: ResultsWriterDb;

const rules = new Map<number, { rules: CompiledRules; maxDecoded: number }>();
const tcpRules = new Map<number, { ignore: MessageIgnore; compiled: Map<AppProtocol, CompiledIgnore> }>();
let results: ReplayResult[] = [];
let answers: AnswerRow[] = [];
let replays = new Map<string, ReplayRow>();
let meta = new Map<string, string>();
let timer: NodeJS.Timeout | null = null;

function commit(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (results.length === 0 && replays.size === 0 && meta.size === 0) return;
  const batch = results;
  results = [];
  const kept = answers;
  answers = [];
  const rows = [...replays.values()];
  replays = new Map();
  const values = [...meta.entries()];
  meta = new Map();
  try {
    db.write(batch, rows, values, kept);
  } catch (err) {
    post({ type: 'writeFailed', count: batch.length, message: (err as Error).message });
  }
}

function queued(): void {
  if (results.length >= BATCH_ROWS) commit();
  else
    timer ??= setTimeout(() => {
      commit();
      sendReplies();
    }, init.flushIntervalMs);
}

/** Bytes of a mismatch's replayed body kept for display; the rest is counted, not kept. */
const MAX_KEPT_ANSWER_BYTES = 256 * 1024;

/** The replayed answer of a mismatch, kept so people can see it beside the recorded one. */
function keepAnswer(base: ResultBase, side: ResponseSide): void {
  const data = side.body.data;
  const kept = data.length > MAX_KEPT_ANSWER_BYTES ? data.subarray(0, MAX_KEPT_ANSWER_BYTES) : data;
  answers.push({
    replay_id: base.replay_id,
    record_id: base.record_id,
    status: side.status,
    headers: JSON.stringify(side.headers),
    body: kept,
    size: side.body.size,
    truncated: side.body.truncated || kept.length < data.length,
    at: base.at,
  });
}

function finish(base: ResultBase, jobId: number, outcome: CompareOutcome): void {
  const kinds = [...new Set(outcome.differences.map((d) => d.kind))];
  const lines = outcome.differences.map((d) => d.line);
  if (outcome.more > 0) lines.push(`… and ${outcome.more} more differences`);
  lines.push(...outcome.notes.map((n) => `note: ${n}`));
  results.push({
    ...base,
    status: outcome.match ? 'match' : 'mismatch',
    truncated: outcome.truncated,
    kinds,
    diff: lines.length > 0 ? lines.join('\n') : null,
  });
  post({ type: 'compared', jobId, match: outcome.match, truncated: outcome.truncated, kinds });
  queued();
}

function failedCompare(base: ResultBase, jobId: number, err: unknown): void {
  finish(base, jobId, {
    match: false,
    truncated: false,
    differences: [{ kind: 'comparison error', line: `comparison failed: ${(err as Error).message}` }],
    more: 0,
    notes: [],
  });
}

function handle(msg: ToResults): void {
  switch (msg.type) {
    case 'rules':
      rules.set(msg.rulesId, { rules: compileRules(msg.compare), maxDecoded: msg.maxDecoded });
      return;
    case 'compareHttp': {
      const r = rules.get(msg.rulesId);
      try {
        if (!r) throw new Error(`comparison rules ${msg.rulesId} were never sent`);
        const replayed = sideWithBuffer(msg.replayed);
        const outcome = compareHttp(withBuffers(msg.recorded), replayed, r.rules, r.maxDecoded);
        if (!outcome.match) keepAnswer(msg.base, replayed);
        finish(msg.base, msg.jobId, outcome);
      } catch (err) {
        failedCompare(msg.base, msg.jobId, err);
      }
      return;
    }
    case 'compareWs': {
      const r = rules.get(msg.rulesId);
      try {
        if (!r) throw new Error(`comparison rules ${msg.rulesId} were never sent`);
        finish(msg.base, msg.jobId, compareWebSocket(msg.recorded, msg.replayed, r.rules));
      } catch (err) {
        failedCompare(msg.base, msg.jobId, err);
      }
      return;
    }
    case 'compareTcp':
      try {
        finish(msg.base, msg.jobId, compareTcp(view(msg.job.recorded), view(msg.job.replayed), msg.job.mode, msg.job.truncated));
      } catch (err) {
        failedCompare(msg.base, msg.jobId, err);
      }
      return;
    case 'tcpRules':
      tcpRules.set(msg.rulesId, { ignore: msg.ignore, compiled: new Map() });
      return;
    case 'compareMessages':
      try {
        const r = tcpRules.get(msg.rulesId);
        if (!r) throw new Error(`comparison rules ${msg.rulesId} were never sent`);
        let compiled = r.compiled.get(msg.job.protocol);
        if (compiled === undefined) {
          compiled = compileIgnore(msg.job.protocol, r.ignore);
          r.compiled.set(msg.job.protocol, compiled);
        }
        const sides = msg.job.sides;
        const chunks = (list: readonly TcpChunk[]): TcpChunk[] => list.map((c) => ({ ...c, data: view(c.data) }));
        finish(msg.base, msg.jobId, compareMessages(msg.job.protocol, { ...sides, recorded: chunks(sides.recorded), replayed: chunks(sides.replayed) }, compiled));
      } catch (err) {
        failedCompare(msg.base, msg.jobId, err);
      }
      return;
    case 'result':
      results.push(msg.result);
      queued();
      return;
    case 'replay':
      replays.set(msg.row.id, msg.row);
      queued();
      return;
    case 'meta':
      meta.set(msg.key, msg.value);
      queued();
      return;
    case 'deleteReplay':
      commit();
      replays.delete(msg.id);
      runOp(msg.opId, () => db.deleteReplay(msg.id));
      return;
    case 'purge':
      commit();
      purge(msg.before, msg.keepReplays);
      return;
    case 'flush':
      runOp(msg.opId, commit);
      return;
    case 'close':
      commit();
      db.close();
      sendReplies();
      port.close();
      return;
  }
}

/** Buffers arrive as plain Uint8Arrays (structured clone); view them as Buffers without copying. */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function sideWithBuffer(side: ResponseSide): ResponseSide {
  return { ...side, body: { ...side.body, data: view(side.body.data) } };
}

function withBuffers(rec: RecordedOutcome): RecordedOutcome {
  return rec.response === null ? rec : { ...rec, response: sideWithBuffer(rec.response) };
}

function runOp(opId: number, fn: () => void): void {
  try {
    fn();
    post({ type: 'opDone', opId, error: null });
  } catch (err) {
    post({ type: 'opDone', opId, error: (err as Error).message });
  }
}

/** Purges in rounds with a turn of the event loop between them, so results keep flowing. */
function purge(before: number, keepReplays: number): void {
  try {
    if (db.purge(before, keepReplays)) {
      setImmediate(() => {
        purge(before, 0x7fffffff);
        sendReplies();
      });
    }
  } catch (err) {
    post({ type: 'writeFailed', count: 0, message: `purge failed: ${(err as Error).message}` });
  }
}

function main(): void {
  try {
    db = new ResultsWriterDb(init.path);
  } catch (err) {
    port.postMessage({ type: 'fatal', message: (err as Error).message } satisfies FromResults);
    port.close();
    return;
  }
  port.on('message', (batch: ToResults[]) => {
    for (const msg of batch) handle(msg);
    sendReplies();
  });
  port.postMessage({ type: 'ready' } satisfies FromResults);
}

main();
