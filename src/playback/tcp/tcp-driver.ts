import { readConversation, type Conversation } from '../../protocols/conversation.js';
import type { Credentials } from '../../protocols/types.js';
import type { AppProtocol, QRecord, TcpRecord } from '../../recording/model.js';
import type { JobOutcome, Preparation, ProtocolDriver, RecordFacts } from '../driver.js';
import type { Compared, ResultsThread } from '../results/results-thread.js';
import type { ResultBase } from '../results/result.js';
import { replayPlan, replayProtocolSession, type ReplayPlan } from './protocol-replay.js';
import { SendOrder, type Turn } from './send-order.js';
import { serverStream, type TcpReplayClient } from './tcp-replay-client.js';

export interface TcpDriverOptions {
  client: TcpReplayClient;
  results: ResultsThread;
  compare: 'exact' | 'length';
  /** 1 = recorded timing, 0 = no waits but the conversation's. */
  speed: number;
  /** Live replay: sessions still open are left for later (they come back on the feed when closed). */
  live: boolean;
  /** How records without an app_protocol are read (the Playback node's tcp.protocol); null = raw. */
  protocol: AppProtocol | null;
  /** Zone B's credentials for the replay's own opening (playback.tcp.auth). */
  creds: Credentials | null;
  /** Results-thread id of the protocol sessions' ignore rules (ResultsThread.addTcpRules). */
  tcpRulesId: number;
}

/** Recorded times are kept to the millisecond (started_at): sessions closer than this are not ordered. */
const ORDER_SLACK_MS = 1;

/** Server bytes kept beyond the recorded ones, so a longer answer shows up as longer. */
const EXTRA_KEPT = 64 * 1024;

/** A session that got through: its time, and the comparison to run. */
function answered(ms: number, compare: (base: ResultBase) => Promise<Compared>): JobOutcome {
  return { ok: true, seconds: ms / 1000, replayedStatus: null, replayedMs: ms, compare };
}

/** A session whose waits timed out says so in its result, whatever the comparison finds. */
function withWaits(base: ResultBase, timedOut: number, what: string): ResultBase {
  return { ...base, error: timedOut > 0 ? `${timedOut} waits for ${what} timed out (playback.tcp.reply_timeout)` : null };
}

/** Why a protocol session cannot be replayed message by message; null when it can. */
function notReplayable(conv: Conversation): { raw: boolean; reason: string } | null {
  if (conv.opened) return null;
  const brk = conv.breaks.c2s ?? conv.breaks.s2c;
  if (brk?.kind === 'tls') return { raw: false, reason: `the session switched to TLS inside the ${conv.protocol} protocol: its bytes are encrypted` };
  // Bytes that were never the protocol are replayed as bytes, like on a raw listener.
  if (brk !== null && (brk.kind === 'broken' || brk.kind === 'unsupported')) return { raw: true, reason: brk.reason };
  if (conv.opening.client.some((m) => m.type === 'CancelRequest')) {
    return { raw: false, reason: 'a PostgreSQL CancelRequest: zone A\'s backend key means nothing in zone B' };
  }
  return { raw: false, reason: `the recorded ${conv.protocol} session never finished its opening (authentication refused, or closed before it)` };
}

/**
 * Replays TCP sessions: raw sessions byte for byte (compared as a byte stream), protocol sessions
 * request by request after the replay's own opening (compared message by message). A protocol
 * session that began after another's last byte (in the recording) starts after that one's replay
 * ended, so that work done in order (a schema, then the load on it) is replayed in order.
 */
export class TcpDriver implements ProtocolDriver {
  readonly protocol = 'tcp';
  /** Protocol sessions being replayed, with when they ended in the recording. */
  readonly #running = new Set<{ end: number; done: Promise<unknown> }>();
  /** Protocol sessions replayed side by side send their requests in the recorded order. */
  readonly #order = new SendOrder();

  constructor(private readonly o: TcpDriverOptions) {}

  facts(record: QRecord): RecordFacts {
    const r = record as TcpRecord;
    return { method: null, target: r.downstream, recorded_status: null, recorded_ms: r.duration_ms };
  }

  prepare(record: QRecord): Preparation {
    const r = record as TcpRecord;
    if (r.state === 'open') return this.o.live ? { kind: 'ignore' } : { kind: 'skipped', reason: 'the session was still open when the replay read it' };
    if (r.downstream === null) {
      return { kind: 'skipped', reason: `the recorded session never reached a downstream (${r.close_reason ?? 'no close reason'})` };
    }
    const bytes = r.chunks.reduce((n, c) => n + c.data.length, 0);
    const protocol = r.app_protocol ?? this.o.protocol;
    if (protocol !== null) {
      const conv = readConversation(protocol, r.chunks);
      const no = notReplayable(conv);
      if (no === null) return { kind: 'job', job: { lane: null, serial: false, bytes, run: (signal) => this.#ordered(protocol, r, conv, signal) } };
      if (!no.raw) return { kind: 'skipped', reason: no.reason };
    }
    return { kind: 'job', job: { lane: null, serial: false, bytes, run: (signal) => this.run(r, signal) } };
  }

  /** Waits for the replays of sessions that ended (in the recording) before this one began. */
  async #inOrder(r: TcpRecord, run: () => Promise<JobOutcome>): Promise<JobOutcome> {
    // Sessions are ordered by their bytes: from the first to the last (a close can come well after
    // the last byte). started_at has millisecond resolution, hence the 1 ms of slack.
    const first = r.started_at + (r.chunks[0]?.t_us ?? 0) / 1000;
    const last = r.started_at + (r.chunks.length > 0 ? r.chunks[r.chunks.length - 1]!.t_us / 1000 : r.duration_ms);
    const before = [...this.#running].filter((s) => s.end <= first + ORDER_SLACK_MS).map((s) => s.done);
    const entry = { end: last, done: Promise.resolve() as Promise<unknown> };
    const done = Promise.allSettled(before).then(run);
    entry.done = done.catch(() => undefined);
    this.#running.add(entry);
    try {
      return await done;
    } finally {
      this.#running.delete(entry);
    }
  }

  /**
   * A protocol session takes its place in the send order as soon as its job runs — before it waits
   * for earlier sessions or dials — so that sessions beside it do not run ahead of its requests.
   */
  async #ordered(protocol: AppProtocol, r: TcpRecord, conv: Conversation, signal: AbortSignal): Promise<JobOutcome> {
    const plan = replayPlan(conv, r.chunks);
    const at = (tUs: number): number => r.started_at + tUs / 1000;
    const turn = this.#order.join(plan.steps.map((s) => at(s.tUs)), plan.endTimes.map(at));
    try {
      return await this.#inOrder(r, () => this.runProtocol(protocol, r, conv, plan, turn, signal));
    } finally {
      turn.leave();
    }
  }

  private async runProtocol(protocol: AppProtocol, r: TcpRecord, conv: Conversation, plan: ReplayPlan, turn: Turn, signal: AbortSignal): Promise<JobOutcome> {
    const recordedServer = r.chunks.reduce((n, c) => n + (c.dir === 's2c' ? c.data.length : 0), 0);
    const out = await replayProtocolSession({ client: this.o.client, creds: this.o.creds, turn }, protocol, r, conv, plan, this.o.speed, signal, 2 * recordedServer + EXTRA_KEPT);
    if (!out.ok) return { ok: false, error: out.error, seconds: out.ms / 1000 };
    return answered(out.ms, (base) =>
      this.o.results.compareMessages(withWaits(base, out.waitsTimedOut, 'answers'), this.o.tcpRulesId, {
        protocol,
        sides: { recorded: r.chunks, replayed: out.replayed, recordedTruncated: r.truncated, replayedTruncated: out.truncated },
      }),
    );
  }

  private async run(r: TcpRecord, signal: AbortSignal): Promise<JobOutcome> {
    const recorded = serverStream(r);
    const out = await this.o.client.replay(r, this.o.speed, signal, recorded.length + EXTRA_KEPT);
    if (!out.ok) return { ok: false, error: out.error, seconds: out.ms / 1000 };
    return answered(out.ms, (base) =>
      this.o.results.compareTcp(withWaits(base, out.waitsTimedOut, 'server bytes'), { recorded, replayed: out.received, mode: this.o.compare, truncated: r.truncated }),
    );
  }
}
