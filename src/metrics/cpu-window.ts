import { performance } from 'node:perf_hooks';

interface Sample {
  /** Monotonic milliseconds. */
  at: number;
  /** Process CPU time (user + system), microseconds. */
  cpu: number;
}

/** Clock and CPU readers; tests pass their own to get exact figures. */
export interface CpuWindowOptions {
  /** Length of the averaging window; default 5000 ms. */
  windowMs?: number;
  now?: () => number;
  cpuMicros?: () => number;
}

function processCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Process CPU use as a percentage of one core (0..100 × cores), averaged over a sliding window of
 * about `windowMs`, or over the time since the previous call when calls are further apart.
 * It needs no timer: it keeps at most one sample per second of the last window and is
 * advanced by the calls themselves.
 */
export class CpuWindow {
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly cpuMicros: () => number;
  private readonly samples: Sample[];
  private lastPercent = 0;

  constructor(opts: CpuWindowOptions = {}) {
    this.windowMs = opts.windowMs ?? 5000;
    this.now = opts.now ?? (() => performance.now());
    this.cpuMicros = opts.cpuMicros ?? processCpuMicros;
    this.samples = [this.sample()];
  }

  percent(): number {
    const current = this.sample();
    // Drop samples until the oldest kept one is the newest that is still a full window old.
    while (this.samples.length > 1 && current.at - this.samples[1]!.at >= this.windowMs) this.samples.shift();
    const base = this.samples[0]!;
    const elapsedMs = current.at - base.at;
    // Two calls in the same millisecond have no window to measure: repeat the previous figure.
    if (elapsedMs > 0) this.lastPercent = ((current.cpu - base.cpu) / 1000 / elapsedMs) * 100;
    if (current.at - this.samples[this.samples.length - 1]!.at >= 1000) this.samples.push(current);
    return Math.round(this.lastPercent * 10) / 10;
  }

  private sample(): Sample {
    return { at: this.now(), cpu: this.cpuMicros() };
  }
}
