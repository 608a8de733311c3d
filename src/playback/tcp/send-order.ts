/**
 * Keeps the protocol sessions replayed side by side in the order zone A's server saw them.
 *
 * Two pgbench clients that update the same rows read each other's writes. Replayed each at its own
 * pace, one session runs ahead and the balances it reads come from another history. So a session
 * sends its next request only when the other sessions have caught up with it in the recording:
 * their requests sent before it are sent, and their answers that came before it are in.
 *
 * The recording does not say everything, though: two requests in flight at once may reach the
 * server in another order than they did in zone A, and a COMMIT takes effect before its answer
 * arrives. When the order then asks zone B for something it will not do — a request waits for a
 * session whose answer waits for a lock the first one's session holds — nothing moves at all. After
 * `stallMs` of that, the earliest waiting session goes anyway (`releases` counts it). Each wait is
 * also bounded by the reply timeout, counted like a timed-out answer.
 */
import { performance } from 'node:perf_hooks';

/** How long nothing may move while a session waits for its turn before the earliest one goes anyway. */
const STALL_MS = 20;

export class SendOrder {
  readonly #turns = new Set<Turn>();
  /** Sessions waiting for their turn. */
  readonly #waiting = new Set<Turn>();
  #lastMove = performance.now();
  #stallTimer: NodeJS.Timeout | null = null;
  /** Times a stall let a session go out of order. */
  releases = 0;

  constructor(private readonly stallMs = STALL_MS) {}

  /** A session joins with the recorded times (epoch ms, ascending) of its requests and of its answers' ends. */
  join(sends: readonly number[], ends: readonly number[]): Turn {
    const turn = new Turn(this, sends, ends);
    if (!turn.done) this.#turns.add(turn);
    return turn;
  }

  /** True when the other sessions have caught up with this session's next request. */
  isDue(turn: Turn): boolean {
    const mine = turn.nextSend;
    for (const other of this.#turns) {
      if (other !== turn && (other.nextSend < mine || other.nextEnd <= mine)) return false;
    }
    return true;
  }

  /** A session moved on (sent, got answers, left): whoever is due now may go. */
  moved(turn: Turn): void {
    this.#lastMove = performance.now();
    if (turn.done) this.#turns.delete(turn);
    for (const other of this.#waiting) if (other !== turn) other.wakeIfDue();
  }

  /** A session starts or stops waiting for its turn. */
  waiting(turn: Turn, waits: boolean): void {
    if (!waits) {
      this.#waiting.delete(turn);
      return;
    }
    this.#waiting.add(turn);
    if (this.#stallTimer === null) this.#armStallCheck(this.stallMs);
  }

  #armStallCheck(ms: number): void {
    this.#stallTimer = setTimeout(() => this.#checkStall(), ms);
    this.#stallTimer.unref();
  }

  #checkStall(): void {
    this.#stallTimer = null;
    if (this.#waiting.size === 0) return;
    const idle = performance.now() - this.#lastMove;
    if (idle < this.stallMs) {
      this.#armStallCheck(this.stallMs - idle);
      return;
    }
    let first: Turn | null = null;
    for (const t of this.#waiting) if (first === null || t.nextSend < first.nextSend) first = t;
    this.#lastMove = performance.now();
    this.releases++;
    first!.release();
    if (this.#waiting.size > 0) this.#armStallCheck(this.stallMs);
  }
}

/** One session's place in a SendOrder. */
export class Turn {
  #sent = 0;
  #ends = 0;
  #left = false;
  #wake: (() => void) | null = null;

  constructor(
    private readonly order: SendOrder,
    private readonly sends: readonly number[],
    private readonly ends: readonly number[],
  ) {}

  /** The recorded time of the next request to send. */
  get nextSend(): number {
    return this.#left ? Number.POSITIVE_INFINITY : (this.sends[this.#sent] ?? Number.POSITIVE_INFINITY);
  }

  /** The recorded time of the next answer to wait for. */
  get nextEnd(): number {
    return this.#left ? Number.POSITIVE_INFINITY : (this.ends[this.#ends] ?? Number.POSITIVE_INFINITY);
  }

  get done(): boolean {
    return this.#left || (this.#sent >= this.sends.length && this.#ends >= this.ends.length);
  }

  /** Waits until this session's next request is due; false when it went on after `timeoutMs` instead. */
  async due(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.done || this.order.isDue(this)) return true;
    return new Promise<boolean>((resolve) => {
      const finish = (inOrder: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        this.#wake = null;
        this.order.waiting(this, false);
        resolve(inOrder);
      };
      const aborted = (): void => finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', aborted, { once: true });
      this.#wake = () => finish(true);
      this.order.waiting(this, true);
    });
  }

  /** Goes on out of order: the replay stalled. */
  release(): void {
    this.#wake?.();
  }

  /** The next request went out. */
  sent(): void {
    if (this.#sent >= this.sends.length) return;
    this.#sent++;
    this.order.moved(this);
  }

  /**
   * `count` answers have ended in zone B (or are no longer waited for: a wait for them timed out).
   * Zone B may end more than the recording did; those hold nobody back.
   */
  answered(count: number): void {
    const ends = Math.min(count, this.ends.length);
    if (ends <= this.#ends) return;
    this.#ends = ends;
    this.order.moved(this);
  }

  /** The session ended (or failed): it no longer holds anyone back. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.order.moved(this);
  }

  wakeIfDue(): void {
    if (this.#wake !== null && this.order.isDue(this)) this.#wake();
  }
}
