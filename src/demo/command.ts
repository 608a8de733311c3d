/**
 * `qproxy demo` (`npm run demo`): QProxy's whole point in one command, on loopback, with no setup.
 * See {@link DEMO_USAGE} for the flags and exit codes; src/demo/run.ts for what one run does.
 */
import { errorMessage } from '../core/errors.js';
import { watchStopSignals } from './lifecycle.js';
import { DEMO_USAGE, parseDemoArgs, type DemoOptions } from './options.js';
import { DemoRun, EXIT_INTERRUPTED } from './run.js';
import { DemoScreen, type ScreenOutput } from './screen.js';

export { DEMO_USAGE } from './options.js';

const EXIT_USAGE = 2;

/** A stream's error events, when it has them (process.stdout does). */
interface ErrorEvents {
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

/** The streams the demo writes to: `process.stdout` / `process.stderr` from the CLI. */
export interface DemoIo {
  /** Progress and results; a TTY gets the refreshing panel. */
  stdout: ScreenOutput & ErrorEvents;
  /** Usage errors. */
  stderr: { write(text: string): boolean } & ErrorEvents;
}

/**
 * Runs the demo with the arguments after `demo` and returns the exit code: 0 success (or Ctrl-C
 * while running without `--once`), 1 nothing replayed or a failure, 2 bad flags, 130 when a
 * `--once` run was interrupted or a second Ctrl-C cut the clean stop short. Takes over SIGINT,
 * SIGTERM and SIGHUP while it runs; everything it started is stopped and its temp folder removed before it
 * returns (or, after a second signal, by the process exit that follows).
 */
export async function runDemo(args: string[], io: DemoIo): Promise<number> {
  let opts: DemoOptions;
  try {
    opts = parseDemoArgs(args);
  } catch (err) {
    io.stderr.write(`qproxy demo: ${errorMessage(err)}\n\n${DEMO_USAGE}\n`);
    return EXIT_USAGE;
  }
  if (opts.help) {
    io.stdout.write(`${DEMO_USAGE}\n`);
    return 0;
  }
  tolerateClosedOutput(io);
  const screen = new DemoScreen(io.stdout, !noColor(process.env));
  const signals = watchStopSignals((signal, count) => {
    screen.print(
      count === 1
        ? screen.yellow(`\n${signal}: stopping cleanly (press Ctrl-C again to exit at once)…`)
        : screen.red(`${signal} again: exiting without finishing the clean stop.`),
    );
  });
  try {
    const run = new DemoRun(opts, screen, signals);
    return await Promise.race([run.run(), signals.forced.then(() => EXIT_INTERRUPTED)]);
  } finally {
    signals.dispose();
  }
}

const tolerant = new WeakSet<object>();

/**
 * A closed terminal (SIGHUP) takes the output with it: writes then fail (EPIPE, EIO), and the clean
 * stop that removes the temp folder must run all the same. The listeners stay: the errors of the
 * last lines written arrive after the demo has returned.
 */
function tolerateClosedOutput(io: DemoIo): void {
  for (const stream of [io.stdout, io.stderr]) {
    if (stream.on === undefined || tolerant.has(stream)) continue;
    tolerant.add(stream);
    stream.on('error', () => {});
  }
}

/** https://no-color.org: NO_COLOR set to anything but the empty string turns colours off. */
function noColor(env: NodeJS.ProcessEnv): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}
