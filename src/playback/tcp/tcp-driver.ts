import type { QRecord, TcpRecord } from '../../recording/model.js';
import type { JobOutcome, Preparation, ProtocolDriver, RecordFacts } from '../driver.js';
import type { ResultsThread } from '../results/results-thread.js';
import { serverStream, type TcpReplayClient } from './tcp-replay-client.js';

export interface TcpDriverOptions {
  client: TcpReplayClient;
  results: ResultsThread;
  compare: 'exact' | 'length';
  /** 1 = recorded timing, 0 = no waits but the conversation's. */
  speed: number;
  /** Live replay: sessions still open are left for later (they come back on the feed when closed). */
  live: boolean;
}

/** Replays TCP sessions and hands the server's byte stream to comparison. */
export class TcpDriver implements ProtocolDriver {
  readonly protocol = 'tcp';

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
    return { kind: 'job', job: { lane: null, serial: false, bytes, run: (signal) => this.run(r, signal) } };
  }

  private async run(r: TcpRecord, signal: AbortSignal): Promise<JobOutcome> {
    const recorded = serverStream(r);
    // A little more than was recorded is kept, so a longer answer shows up as longer.
    const out = await this.o.client.replay(r, this.o.speed, signal, recorded.length + 64 * 1024);
    const seconds = out.ms / 1000;
    if (!out.ok) return { ok: false, error: out.error, seconds };
    return {
      ok: true,
      seconds,
      replayedStatus: null,
      replayedMs: out.ms,
      compare: (base) =>
        this.o.results.compareTcp(
          { ...base, error: out.waitsTimedOut > 0 ? `${out.waitsTimedOut} waits for server bytes timed out (playback.tcp.reply_timeout)` : null },
          { recorded, replayed: out.received, mode: this.o.compare, truncated: r.truncated },
        ),
    };
  }
}
