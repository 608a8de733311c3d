import { readFileSync, readdirSync } from 'node:fs';

/**
 * How close the process is to its file-handle limit, so that a listener anyone can reach (sync)
 * stops taking connections while handles are left for the API, the store and the other listeners.
 * A process that runs out accepts nothing at all: libuv then accepts and drops every connection,
 * the API's included, and nothing says why.
 *
 * Linux only (/proc); elsewhere the guard never refuses. Node raises its soft limit to the hard one
 * at start, so the soft limit read here is the one that applies.
 *
 * @module
 */

/** Open file handles of this process and the most it may have open. */
export interface FdReading {
  open: number;
  /** Soft RLIMIT_NOFILE. */
  limit: number;
}

/** Soft RLIMIT_NOFILE ("Max open files") of this process; null without /proc or when unlimited. */
export function readFdLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : null;
  } catch {
    return null;
  }
}

/** File handles open now (the one used to list them excluded); null without /proc. */
export function countOpenFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

export interface FdGuardOptions {
  /** Share of the limit from which new connections are refused, 0–1. */
  refuseAt: number;
  /** Handles are counted afresh at most this often; in between, admitted connections are added to the last count. */
  recountMs: number;
  /** Told when the count crosses `refuseAt` (true) and when it is back below it with some margin (false). */
  onPressure(pressed: boolean, reading: FdReading): void;
}

/** Pressure is over once the count is this much (share of the limit) below `refuseAt`, so a count hovering at the line does not flap. */
const HYSTERESIS = 0.05;

/**
 * Answers "may one more connection be taken?" without listing /proc/self/fd on every accept: a
 * count is reused for `recountMs`, plus one per connection admitted since (closings are ignored
 * until the next count, which errs on the side of refusing).
 */
export class FdGuard {
  private readonly limit: number | null;
  private open = 0;
  private countedAt = -Infinity;
  private pressed = false;

  constructor(
    private readonly o: FdGuardOptions,
    limit: number | null = readFdLimit(),
  ) {
    this.limit = limit;
  }

  /** True while the process holds `refuseAt` of its handles or more; recounts when the last count is stale. */
  overLimit(): boolean {
    if (this.limit === null) return false;
    const now = performance.now();
    if (now - this.countedAt >= this.o.recountMs) {
      const open = countOpenFds();
      if (open === null) return false;
      this.open = open;
      this.countedAt = now;
    }
    const share = this.open / this.limit;
    const pressed = this.pressed ? share >= this.o.refuseAt - HYSTERESIS : share >= this.o.refuseAt;
    if (pressed !== this.pressed) {
      this.pressed = pressed;
      this.o.onPressure(pressed, { open: this.open, limit: this.limit });
    }
    return pressed;
  }

  /** A connection was taken: it holds a handle the last count did not see. */
  admitted(): void {
    this.open++;
  }

  /** The last count and the limit; null where the limit is unknown. */
  reading(): FdReading | null {
    return this.limit === null ? null : { open: this.open, limit: this.limit };
  }
}
