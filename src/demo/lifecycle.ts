/**
 * How the demo stops on every path: a stack of cleanup steps run in reverse order of start, stop
 * signals (the first asks for a clean stop, a second one forces the end), and a last-resort hook
 * that removes the temp folder when the process exits some other way (an uncaught exception makes
 * `qproxy` exit at once; sockets and workers die with the process, only files would remain).
 */
import { rmSync } from 'node:fs';

/** Cleanup steps, run last-in first-out; a failing step is reported and the others still run. */
export class CleanupStack {
  private readonly steps: Array<{ what: string; run: () => Promise<void> }> = [];

  add(what: string, run: () => Promise<void>): void {
    this.steps.push({ what, run });
  }

  /** Runs every step once; returns the failures ("what: message"). */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.run();
      } catch (err) {
        failures.push(`${step.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}

/**
 * The signals that end the demo: Ctrl-C, a supervisor's stop, and SIGHUP — a closed terminal,
 * whose default action would kill the process before it removes its temp folder (CA key included).
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** SIGINT/SIGTERM/SIGHUP while the demo runs. */
export interface StopSignals {
  /** The first signal received, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Resolves on the first signal. */
  readonly stopped: Promise<NodeJS.Signals>;
  /** Resolves on a second signal: stop waiting for the clean stop. */
  readonly forced: Promise<NodeJS.Signals>;
  /** Removes the handlers (Node's default signal behaviour returns). */
  dispose(): void;
}

/** Takes over SIGINT, SIGTERM and SIGHUP until `dispose()`. */
export function watchStopSignals(onSignal: (signal: NodeJS.Signals, count: number) => void): StopSignals {
  let count = 0;
  let first: NodeJS.Signals | null = null;
  let resolveStopped!: (s: NodeJS.Signals) => void;
  let resolveForced!: (s: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (resolveStopped = r));
  const forced = new Promise<NodeJS.Signals>((r) => (resolveForced = r));
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    onSignal(signal, count);
    if (count === 1) {
      first = signal;
      resolveStopped(signal);
    } else {
      resolveForced(signal);
    }
  };
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return {
    get signal() {
      return first;
    },
    stopped,
    forced,
    dispose() {
      for (const s of STOP_SIGNALS) process.off(s, handler);
    },
  };
}

/** Removes `dir` synchronously if the process exits before the demo did it; returns the remover. */
export function removeOnExit(dir: string): () => void {
  const hook = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', hook);
  return () => process.off('exit', hook);
}
