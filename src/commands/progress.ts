/**
 * Progress of a long call on stderr: on a terminal one line redrawn in place (a bar when the total
 * is known), otherwise a plain line every few seconds so CI logs stay short.
 */
import { truncate } from './table.js';
import { lineWidth, type OutStream, type Style } from './terminal.js';

export interface ProgressOptions {
  stream: OutStream;
  style: Style;
  now: () => number;
  /** Non-TTY output: at most one line this often. */
  intervalMs?: number;
}

export interface ProgressState {
  done: number;
  /** Null when the total is not known up front. */
  total: number | null;
  /** Text after the counts, e.g. "match 40 · mismatch 2 · success 95.2%". */
  detail: string;
}

const BAR_WIDTH = 24;
const CLEAR_LINE = '\r\u001b[2K';

/** A bar of `width` cells for a fraction from 0 to 1. */
export function bar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export class Progress {
  private readonly tty: boolean;
  private lastLine = 0;
  private drawn = false;

  constructor(private readonly o: ProgressOptions) {
    this.tty = o.stream.isTTY === true;
  }

  update(s: ProgressState): void {
    const counts = s.total === null ? `${s.done} done` : `${bar(s.total === 0 ? 1 : s.done / s.total)} ${s.done}/${s.total}`;
    const text = `${counts}  ${s.detail}`;
    if (this.tty) {
      const width = lineWidth(this.o.stream);
      this.o.stream.write(`${CLEAR_LINE}${width === null ? text : truncate(text, width - 1)}`);
      this.drawn = true;
      return;
    }
    const now = this.o.now();
    if (this.lastLine !== 0 && now - this.lastLine < (this.o.intervalMs ?? 5_000)) return;
    this.lastLine = now;
    this.o.stream.write(`${text}\n`);
  }

  /** Ends the redrawn line so what follows starts on a fresh one. */
  finish(): void {
    if (this.tty && this.drawn) this.o.stream.write(`${CLEAR_LINE}`);
    this.drawn = false;
  }
}
