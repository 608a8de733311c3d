/**
 * Target start times for replayed records. On demand: the recorded spacing divided by the speed,
 * with long idle gaps capped, or a fixed rate, or no timing at all (speed 0). Live: records are
 * placed a fixed offset after their recorded time, so the replay runs `delay` behind the stream
 * and records that arrive out of order within the delay are put back in order.
 */
import { performance } from 'node:perf_hooks';

/** How an on-demand replay is timed. */
export interface TimingOptions {
  /** 1 = recorded timing, 2 = twice as fast, 0 = as fast as possible. */
  speed: number;
  /** Fixed requests per second instead of the recorded timing; 0 = off. */
  rate: number;
  /** Recorded gaps longer than this are shortened to it; 0 = no cap. */
  maxGapMs: number;
}

export interface Clock {
  /** Monotonic milliseconds (`performance.now`). */
  mono(): number;
  /** Wall-clock epoch milliseconds (`Date.now`). */
  wall(): number;
}

export const systemClock: Clock = { mono: () => performance.now(), wall: () => Date.now() };

/** Due times for records fed in ascending `started_at` order. */
export class RecordedTimeline {
  private first = true;
  private prevStarted = 0;
  private prevDue = 0;
  private index = 0;

  constructor(
    private readonly opts: TimingOptions,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The due time (`Clock.mono` ms) of the next record; -Infinity when there is no timing. */
  next(startedAt: number): number {
    const { speed, rate, maxGapMs } = this.opts;
    if (rate > 0) {
      if (this.first) this.prevDue = this.clock.mono();
      const due = this.prevDue + (this.index++ * 1000) / rate;
      this.first = false;
      return due;
    }
    if (speed === 0) return -Infinity;
    if (this.first) {
      this.first = false;
      this.prevStarted = startedAt;
      this.prevDue = this.clock.mono();
      return this.prevDue;
    }
    let gap = Math.max(0, startedAt - this.prevStarted);
    if (maxGapMs > 0 && gap > maxGapMs) gap = maxGapMs;
    this.prevStarted = Math.max(this.prevStarted, startedAt);
    this.prevDue += gap / speed;
    return this.prevDue;
  }
}

/** Live placement: due = recorded time + offset, re-aligned when the stream falls behind or catches up. */
export class LiveTimeline {
  private offset: number | null = null;
  /** Times the offset was set again (the stream fell behind or caught up by more than the delay). */
  realigned = 0;

  constructor(
    private readonly delayMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  next(startedAt: number): number {
    const wall = this.clock.wall();
    let dueWall = this.offset === null ? NaN : startedAt + this.offset;
    if (this.offset === null) {
      this.offset = wall - startedAt + this.delayMs;
      dueWall = wall + this.delayMs;
    } else if (dueWall < wall - this.delayMs) {
      // Behind by more than the delay budget (a backlog after a sync outage): play it now and
      // keep the recorded spacing from here.
      this.offset = wall - startedAt;
      dueWall = wall;
      this.realigned++;
    } else if (dueWall > wall + 2 * this.delayMs + 1000) {
      // The stream caught up (sync lag dropped): do not stay further behind than the delay.
      this.offset = wall - startedAt + this.delayMs;
      dueWall = wall + this.delayMs;
      this.realigned++;
    }
    return this.clock.mono() + (dueWall - wall);
  }
}
