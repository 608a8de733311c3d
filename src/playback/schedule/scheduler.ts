/**
 * @module The replay scheduler: starts jobs at their target times with bounded concurrency and
 * per-connection ordering, and measures how late it starts them.
 *
 *   push ─▶ heap (by due time) ──due──▶ lane free? ──▶ ready (FIFO) ──slot free & gate open──▶ run
 *                                        └ no: waits in its lane, behind the job holding it
 *
 * A lane is one recorded client connection. Its jobs start in push order; on a serial lane
 * (HTTP/1.x) the next one waits until the previous one finished, as it did on the recorded
 * connection. One timer, armed for the earliest due job, drives everything.
 */
import { performance } from 'node:perf_hooks';
import { Fifo, MinHeap } from './min-heap.js';

/** A unit of work with its target start time. */
export interface Job<T> {
  /** `performance.now()` milliseconds at which to start; -Infinity = as soon as possible. */
  due: number;
  /** Ordering lane (one recorded client connection), or null for none. */
  lane: string | null;
  /** True: the lane's next job waits until this one finished; false: only the start order is kept. */
  serial: boolean;
  payload: T;
  /** Rough memory held by the job, for the queue bound. */
  bytes: number;
}

export interface SchedulerOptions<T> {
  /** Most jobs running at once; never exceeded. */
  concurrency: number;
  /** Runs one job; `latenessMs` is start time minus due time (null for as-soon-as-possible jobs). Must not reject. */
  run(payload: T, latenessMs: number | null): Promise<void>;
  /** Extra admission check (e.g. the comparison backlog); call `poke()` when it may have opened. */
  gate?: () => boolean;
  /** Clock in milliseconds; `performance.now` by default. */
  now?: () => number;
}

/** Starting this much early is allowed: Node timers have millisecond granularity. */
const EARLY_MS = 1;

interface Entry<T> extends Job<T> {
  seq: number;
}

interface Lane<T> {
  /** A job of the lane is ready or running (serial), or ready (non-serial). */
  held: boolean;
  waiting: Fifo<Entry<T>>;
}

export class Scheduler<T> {
  private readonly heap = new MinHeap<Entry<T>>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  private readonly ready = new Fifo<Entry<T>>();
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly now: () => number;
  private seq = 0;
  private running = 0;
  private peak = 0;
  private held = 0;
  private heldBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;
  private idleWaiters: Array<() => void> = [];
  private pumping = false;

  constructor(private readonly opts: SchedulerOptions<T>) {
    if (!(opts.concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, got ${opts.concurrency}`);
    this.now = opts.now ?? (() => performance.now());
  }

  /** Jobs waiting (not yet started). */
  get queued(): number {
    return this.held;
  }

  /** Bytes of the jobs waiting. */
  get queuedBytes(): number {
    return this.heldBytes;
  }

  /** Jobs running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Most jobs that ever ran at once. */
  get maxInFlight(): number {
    return this.peak;
  }

  push(job: Job<T>): void {
    this.heap.push({ ...job, seq: this.seq++ });
    this.held++;
    this.heldBytes += job.bytes;
    this.pump();
  }

  /** Re-checks what may start (after the gate opened). */
  poke(): void {
    this.pump();
  }

  /** Resolves when nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.held === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops every waiting job (running ones finish on their own); returns how many were dropped. */
  clear(): number {
    const dropped = this.held;
    this.heap.clear();
    this.ready.clear();
    this.lanes.clear();
    this.held = 0;
    this.heldBytes = 0;
    this.disarm();
    this.checkIdle();
    return dropped;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.admitDue();
      this.startReady();
      this.arm();
    } finally {
      this.pumping = false;
    }
  }

  /** Moves due jobs from the heap to their lane or to the ready queue. */
  private admitDue(): void {
    const limit = this.now() + EARLY_MS;
    for (let top = this.heap.peek(); top !== undefined && top.due <= limit; top = this.heap.peek()) {
      this.heap.pop();
      if (top.lane === null) {
        this.ready.push(top);
        continue;
      }
      let lane = this.lanes.get(top.lane);
      if (lane === undefined) {
        lane = { held: false, waiting: new Fifo() };
        this.lanes.set(top.lane, lane);
      }
      if (lane.held) lane.waiting.push(top);
      else {
        lane.held = true;
        this.ready.push(top);
      }
    }
  }

  private startReady(): void {
    const gate = this.opts.gate;
    while (this.ready.length > 0 && this.running < this.opts.concurrency && (gate === undefined || gate())) {
      this.start(this.ready.shift()!);
    }
  }

  private start(job: Entry<T>): void {
    this.held--;
    this.heldBytes -= job.bytes;
    this.running++;
    if (this.running > this.peak) this.peak = this.running;
    const lateness = job.due === -Infinity ? null : Math.max(0, this.now() - job.due);
    if (!job.serial) this.releaseLane(job.lane);
    let settled: Promise<void>;
    try {
      settled = this.opts.run(job.payload, lateness);
    } catch {
      settled = Promise.resolve();
    }
    settled.then(
      () => this.finished(job),
      () => this.finished(job),
    );
  }

  private finished(job: Entry<T>): void {
    this.running--;
    if (job.serial) this.releaseLane(job.lane);
    this.pump();
    this.checkIdle();
  }

  /** The lane's next waiting job (already due) becomes ready, or the lane is free. */
  private releaseLane(name: string | null): void {
    if (name === null) return;
    const lane = this.lanes.get(name);
    if (lane === undefined) return;
    const next = lane.waiting.shift();
    if (next !== undefined) this.ready.push(next);
    else this.lanes.delete(name);
  }

  private arm(): void {
    const top = this.heap.peek();
    if (top === undefined) return this.disarm();
    if (this.timer !== null && this.timerDue <= top.due) return;
    this.disarm();
    this.timerDue = top.due;
    const delay = Math.max(1, Math.floor(top.due - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerDue = Infinity;
      this.pump();
    }, delay);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }

  private checkIdle(): void {
    if (this.held !== 0 || this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
