/**
 * Replays a recorded PostgreSQL, Redis or MySQL session against zone B, request by request:
 *
 * ```
 * connect ─▶ the replay's own opening (zone B's credentials) ─▶ for each recorded exchange:
 *   wait until zone B ended as many answers as the recording had before it (or reply_timeout),
 *   until its recorded time ÷ speed, and until no session replayed beside it has an earlier request
 *   unsent (SendOrder) ─▶ send its messages (statement ids mapped, AUTH swapped)
 * ─▶ the rest of the client's bytes if the recording stopped being messages ─▶ wait for the last answers
 * ```
 *
 * Everything zone B sends is kept (up to a bound) in the recording's chunk model, for the
 * comparison to read as messages the same way.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { bytesFrom, type Conversation } from '../../protocols/conversation.js';
import { protocolModule } from '../../protocols/registry.js';
import { OpeningError, type Credentials, type WireMessage } from '../../protocols/types.js';
import type { AppProtocol, TcpChunk, TcpRecord } from '../../recording/model.js';
import { ProtocolConnection } from './protocol-connection.js';
import type { Turn } from './send-order.js';
import type { TcpReplayClient } from './tcp-replay-client.js';

/** One request to send: an exchange's client messages, and the answers due before it. */
export interface ReplayStep {
  n: number;
  messages: WireMessage[];
  tUs: number;
  /** Answers (after the opening) that had ended in the recording before these messages went out. */
  endsBefore: number;
}

export interface ReplayPlan {
  steps: ReplayStep[];
  /** Client bytes after the recording stopped being messages, sent as they are. */
  rawTail: Buffer;
  /** Answers the recording ended in all. */
  totalEnds: number;
  /** When (µs from the session start) each of those answers ended. */
  endTimes: number[];
}

/** The requests of a recorded conversation, in order, with how many answers to wait for before each. */
export function replayPlan(conv: Conversation, chunks: readonly TcpChunk[]): ReplayPlan {
  const steps: ReplayStep[] = [];
  const endTimes: number[] = [];
  for (const e of conv.exchanges) {
    if (e.request.length > 0) steps.push({ n: e.n, messages: e.request, tUs: e.request[0]!.t_us, endsBefore: endTimes.length });
    for (const m of e.answer) if (m.end) endTimes.push(m.t_us);
  }
  const brk = conv.breaks.c2s;
  return { steps, rawTail: brk === null ? Buffer.alloc(0) : bytesFrom(chunks, 'c2s', brk.offset), totalEnds: endTimes.length, endTimes };
}

export type ProtocolReplayOutcome =
  | { ok: true; target: string; replayed: TcpChunk[]; truncated: boolean; ms: number; waitsTimedOut: number }
  | { ok: false; target: string; error: { code: string; message: string }; ms: number };

export interface ProtocolReplayOptions {
  client: TcpReplayClient;
  creds: Credentials | null;
  /** This session's place among the sessions replayed beside it (one per plan step). */
  turn: Turn;
}

/** Never throws: every failure is an outcome. */
export async function replayProtocolSession(
  o: ProtocolReplayOptions,
  protocol: AppProtocol,
  record: TcpRecord,
  conv: Conversation,
  plan: ReplayPlan,
  speed: number,
  signal: AbortSignal,
  keepBytes: number,
): Promise<ProtocolReplayOutcome> {
  const dialed = await o.client.dial(signal);
  if (!dialed.ok) return dialed;
  const { socket, target, t0 } = dialed;
  // One request at a time: Nagle's algorithm would hold each small request back for an ACK.
  socket.setNoDelay(true);
  const fail = (code: string, message: string): ProtocolReplayOutcome => ({ ok: false, target, error: { code, message }, ms: performance.now() - t0 });
  const conn = new ProtocolConnection(socket, protocol, t0, keepBytes, o.client.replyTimeoutMs);
  try {
    const mod = protocolModule(protocol);
    try {
      await mod.open(conn, conv, o.creds);
    } catch (err) {
      if (err instanceof OpeningError) return fail(err.code, err.message);
      throw err;
    }
    conn.opened(mod.rewriter(conv, o.creds));
    const waitsTimedOut = await converse(conn, o.turn, record, plan, speed, signal, o.client.replyTimeoutMs);
    if (signal.aborted) return fail('QP_ERR_REPLAY_CANCELLED', `replay cancelled while talking to ${target}`);
    return { ok: true, target, replayed: conn.chunks, truncated: conn.truncated, ms: performance.now() - t0, waitsTimedOut };
  } catch (err) {
    return fail('QP_ERR_REPLAY_INTERNAL', `${protocol} replay failed: ${(err as Error).message}`);
  } finally {
    socket.destroy();
  }
}

async function converse(conn: ProtocolConnection, turn: Turn, record: TcpRecord, plan: ReplayPlan, speed: number, signal: AbortSignal, replyTimeoutMs: number): Promise<number> {
  let timedOut = 0;
  const gone = (): boolean => signal.aborted || conn.ended || conn.error !== null;
  // The recorded opening took its own time; requests keep their spacing from the first one on.
  const shift = plan.steps[0]?.tUs ?? 0;
  const start = performance.now();
  conn.onEnds = (ends) => turn.answered(ends);
  turn.answered(conn.ends);
  for (const step of plan.steps) {
    if (!(await conn.waitForEnds(step.endsBefore, replyTimeoutMs, signal))) {
      timedOut++;
      // The sessions beside it stop waiting for those answers too.
      turn.answered(step.endsBefore);
    }
    if (gone()) return timedOut;
    if (speed > 0) {
      const wait = start + (step.tUs - shift) / 1000 / speed - performance.now();
      if (wait > 1) await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
    if (!(await turn.due(replyTimeoutMs, signal))) timedOut++;
    if (gone()) return timedOut;
    const bytes = step.messages.map((m) => conn.rewriter!.request(m));
    await conn.write(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes));
    turn.sent();
  }
  if (plan.rawTail.length > 0 && !gone()) await conn.write(plan.rawTail);
  if (record.close_reason === 'client_close' && !gone()) conn.socket.end();
  if (!(await conn.waitForEnds(plan.totalEnds, replyTimeoutMs, signal))) timedOut++;
  return timedOut;
}
