/**
 * The frame every API command runs in: its streams and environment (passed in, so commands never
 * reach for process globals), usage on --help, and the mapping from errors to exit codes.
 */
import { QProxyError } from '../core/errors.js';
import { UsageError } from './args.js';
import type { OutStream } from './terminal.js';

/** Exit codes shared by the commands. */
export const EXIT = { ok: 0, failure: 1, usage: 2, belowThreshold: 3, interrupted: 130 } as const;

/** What a command gets from the process that runs it. */
export interface CommandIo {
  stdout: OutStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** Calls `handler` on Ctrl-C (SIGINT) instead of the default exit; returns the function that removes it. */
  onInterrupt: (handler: () => void) => () => void;
  /** Current time in epoch ms (relative times such as -1h count from it). */
  now: () => number;
}

/** A command: takes its arguments (after its name) and returns the exit code. */
export type Command = (args: string[], io: CommandIo) => Promise<number>;

/**
 * Runs `body`, printing errors readably on stderr: usage errors with the usage text (exit 2),
 * QProxy errors with their message (exit 1), anything else with its stack (a bug, exit 1).
 */
export async function runCommand(name: string, usage: string, io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`qproxy ${name}: ${err.message}\n\n${usage}\n`);
      return EXIT.usage;
    }
    if (err instanceof QProxyError) {
      io.stderr.write(`qproxy ${name}: ${err.message}\n`);
      return EXIT.failure;
    }
    io.stderr.write(`qproxy ${name}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failure;
  }
}
