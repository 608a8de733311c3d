/**
 * Terminal output of the demo. On a TTY a compact panel is redrawn in place (ANSI cursor moves;
 * colours unless NO_COLOR is set); otherwise — a pipe, a CI log, a test — one plain progress line
 * is printed every few seconds, so the output stays readable and greppable.
 */
import type { ResultRow } from './node-api.js';
import type { TrafficCounts } from './traffic.js';

/** Everything the progress panel shows. */
export interface Progress {
  elapsedMs: number;
  sending: boolean;
  sent: TrafficCounts;
  /** Records in the Record node's store. */
  recorded: number;
  /** Records the Playback node acknowledged (Record node's `sync.sent.records`). */
  synced: number;
  pending: number;
  syncState: string;
  syncError: string | null;
  replayed: number;
  matched: number;
  mismatched: number;
  failed: number;
  /** Results not sent to zone B: dry runs and skips by the safety policy. */
  notSent: number;
  successRate: number | null;
}

/** Where the screen writes: a stream that may be a terminal. */
export interface ScreenOutput {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

type Paint = (text: string) => string;

/** Plain progress lines are printed at most this often. */
const PLAIN_EVERY_MS = 2_000;

export class DemoScreen {
  readonly bold: Paint;
  readonly dim: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
  readonly red: Paint;
  readonly cyan: Paint;
  private drawn = 0;
  private lastPlain = -Infinity;

  /** `color` only applies on a TTY; pass false when NO_COLOR is set. */
  constructor(
    private readonly out: ScreenOutput,
    color: boolean,
  ) {
    const on = color && this.tty;
    const sgr = (code: string): Paint => (on ? (t) => `\x1b[${code}m${t}\x1b[0m` : (t) => t);
    this.bold = sgr('1');
    this.dim = sgr('2');
    this.green = sgr('32');
    this.yellow = sgr('33');
    this.red = sgr('31');
    this.cyan = sgr('36');
  }

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** Prints lines above the panel (the panel is redrawn below them on the next update). */
  print(...lines: string[]): void {
    this.erase();
    this.out.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Shows the progress: redraws the panel on a TTY, or prints a plain line now and then. */
  update(p: Progress, diffs: readonly ResultRow[] = [], force = false): void {
    if (!this.tty) {
      if (force || p.elapsedMs - this.lastPlain >= PLAIN_EVERY_MS) {
        this.lastPlain = p.elapsedMs;
        this.out.write(`${plainLine(p)}\n`);
      }
      return;
    }
    const lines = [...this.panel(p), ...(diffs.length > 0 ? ['', this.bold('Example differences'), ...this.diffLines(diffs)] : [])];
    this.erase();
    this.out.write(lines.map((l) => `${this.fit(l)}\n`).join(''));
    this.drawn = lines.length;
  }

  /** Leaves the last panel on screen; later output goes below it. */
  freeze(): void {
    this.drawn = 0;
  }

  /** One readable block per differing result: what was requested, what differed, the diff lines. */
  diffLines(rows: readonly ResultRow[], maxDiffLines = 3): string[] {
    const out: string[] = [];
    for (const r of rows) {
      const what = r.protocol === 'http' ? `${r.method ?? '?'} ${r.target ?? '?'}` : `TCP session to ${r.target ?? '?'}`;
      const statuses = r.recorded_status !== null || r.replayed_status !== null ? `  status ${r.recorded_status ?? '-'} → ${r.replayed_status ?? '-'}` : '';
      out.push(`  ${this.yellow('≠')} ${this.bold(what)}${this.dim(statuses)}${r.kinds.length > 0 ? this.dim(`  (${r.kinds.join(', ')})`) : ''}`);
      const diff = (r.diff ?? r.error ?? '').split('\n').filter(Boolean);
      for (const line of diff.slice(0, maxDiffLines)) out.push(`      ${line}`);
      if (diff.length > maxDiffLines) out.push(this.dim(`      … ${diff.length - maxDiffLines} more`));
    }
    return out;
  }

  private panel(p: Progress): string[] {
    const n = (v: number): string => this.bold(String(v).padStart(6));
    const rate = p.successRate === null ? this.dim('   —  ') : this.paintRate(p.successRate)(`${(p.successRate * 100).toFixed(1).padStart(5)}%`);
    const sync = p.syncError ? this.red(`${p.syncState}: ${p.syncError}`) : p.syncState === 'connected' ? this.green('connected') : this.yellow(p.syncState);
    return [
      `${this.bold('QProxy demo')} ${this.dim(`· ${(p.elapsedMs / 1000).toFixed(1)}s · ${p.sending ? 'sending traffic' : 'traffic done, catching up'}`)}`,
      `  sent      ${n(p.sent.http)} HTTP requests, ${p.sent.tcp} TCP sessions${p.sent.errors > 0 ? this.red(`, ${p.sent.errors} errors`) : ''}`,
      `  recorded  ${n(p.recorded)} ${this.dim('zone A Record node store')}`,
      `  synced    ${n(p.synced)} ${this.dim(`to zone B, ${p.pending} pending ·`)} ${sync}`,
      `  replayed  ${n(p.replayed)} ${this.dim('against zone B:')} ${this.green(`${p.matched} match`)}, ${this.yellow(`${p.mismatched} differ`)}, ${p.failed > 0 ? this.red(`${p.failed} failed`) : '0 failed'}${p.notSent > 0 ? this.dim(`, ${p.notSent} not sent (safety)`) : ''}`,
      `  success   ${rate} ${this.bar(p.successRate)}`,
    ];
  }

  private paintRate(rate: number): Paint {
    return rate >= 0.95 ? this.green : rate >= 0.5 ? this.yellow : this.red;
  }

  private bar(rate: number | null, width = 24): string {
    if (rate === null) return '';
    const full = Math.round(rate * width);
    return `${this.paintRate(rate)('█'.repeat(full))}${this.dim('░'.repeat(width - full))}`;
  }

  /** Cuts a line to the terminal width so a redraw never wraps (which would break the cursor math). */
  private fit(line: string): string {
    const width = this.out.columns ?? 0;
    if (width <= 0 || visibleLength(line) < width) return line;
    let shown = 0;
    let out = '';
    for (const part of line.split(/(\x1b\[[0-9;]*m)/)) {
      if (part.startsWith('\x1b[')) {
        out += part;
        continue;
      }
      const room = width - 1 - shown;
      out += part.slice(0, Math.max(0, room));
      shown += Math.min(part.length, Math.max(0, room));
    }
    return `${out}\x1b[0m`;
  }

  private erase(): void {
    if (this.drawn > 0 && this.tty) this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }
}

/** `[  4.0s] sent 96 HTTP + 12 TCP | recorded 108 | synced 104 (pending 4) | replayed 90 | success 74.4%` */
export function plainLine(p: Progress): string {
  const rate = p.successRate === null ? '—' : `${(p.successRate * 100).toFixed(1)}%`;
  const errors = p.sent.errors > 0 ? ` (${p.sent.errors} errors)` : '';
  const sync = p.syncError ? ` [sync ${p.syncState}: ${p.syncError}]` : '';
  return (
    `[${(p.elapsedMs / 1000).toFixed(1).padStart(5)}s] sent ${p.sent.http} HTTP + ${p.sent.tcp} TCP${errors} | recorded ${p.recorded} | ` +
    `synced ${p.synced} (pending ${p.pending})${sync} | replayed ${p.replayed} (${p.matched} match, ${p.mismatched} differ, ${p.failed} failed) | success ${rate}`
  );
}

function visibleLength(line: string): number {
  return line.replace(/\x1b\[[0-9;]*m/g, '').length;
}
