/**
 * The `qproxy demo` flags. Parsed with node:util parseArgs; every problem is a ConfigError whose
 * message says which flag and what is expected (the command prints it with the usage and exits 2).
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/units.js';
import { ConfigError, errorMessage } from '../core/errors.js';

/** What `qproxy demo` was asked to do. */
export interface DemoOptions {
  /** End after one run (traffic for `durationMs`, then wait until it was synced and replayed). */
  once: boolean;
  /** How long traffic is driven; null = until Ctrl-C. */
  durationMs: number | null;
  /** Requests per second sent through the Record node; one in eight is a TCP session instead. */
  rate: number;
  /** First of 11 consecutive loopback ports; null = free ports picked by the system. */
  portBase: number | null;
  /** Keep the temp folder (configs, certificates, databases, logs) after the end. */
  keep: boolean;
  help: boolean;
}

/** Length of the `--once` run when `--duration` is not given. */
export const DEFAULT_ONCE_MS = 15_000;
export const DEFAULT_RATE = 25;
export const MAX_RATE = 500;
/** Ports used from `--port-base`: 4 sample services, 2 + 4 node listeners (see DemoPorts). */
export const PORTS_USED = 11;

export const DEMO_USAGE = `Usage: qproxy demo [--once] [--duration 15s] [--rate 25] [--port-base N] [--keep]

Runs a complete two-zone setup on loopback, with no setup: sample services for zone A and zone B
(HTTP and TCP), a Record node in front of zone A, a Playback node for zone B with TLS sync, and
realistic traffic through the Record node. Shows records made, synced, replayed, the success rate
and example differences (zone B differs on purpose in one endpoint), and the API URLs to explore.

  --once           end after one run and print a summary (exit 0 when records were recorded,
                   synced and replayed, 1 otherwise)
  --duration D     how long traffic is sent: "20s", "1m", or seconds (default with --once: 15s;
                   without --once: until Ctrl-C)
  --rate N         requests per second (default ${DEFAULT_RATE}, at most ${MAX_RATE}); one in eight is a TCP session
  --port-base N    use ports N..N+${PORTS_USED - 1} on 127.0.0.1 instead of free ports
  --keep           keep the temp folder (configs, certificates, databases, node logs)
  -h, --help       this text

Ctrl-C (or SIGTERM, or SIGHUP from a closed terminal) stops everything and removes the temp folder;
a second Ctrl-C exits at once.
Exit codes: 0 success (or stopped with Ctrl-C while running without --once), 1 nothing was
replayed or the demo failed, 2 bad flags, 130 interrupted before a --once run finished.`;

/** Parses the flags after `demo`. Throws ConfigError for unknown flags or bad values. */
export function parseDemoArgs(args: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      options: {
        once: { type: 'boolean' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        'port-base': { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(errorMessage(err), { cause: err });
  }
  const once = values.once ?? false;
  const duration = values.duration === undefined ? (once ? DEFAULT_ONCE_MS : null) : parseDurationFlag(values.duration);
  return {
    once,
    durationMs: duration,
    rate: values.rate === undefined ? DEFAULT_RATE : parseIntFlag('--rate', values.rate, 1, MAX_RATE),
    portBase: values['port-base'] === undefined ? null : parseIntFlag('--port-base', values['port-base'], 1024, 65535 - PORTS_USED + 1),
    keep: values.keep ?? false,
    help: values.help ?? false,
  };
}

function parseDurationFlag(text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text.trim()) ? Math.floor(Number(text) * 1000) : parseDuration(text);
  if (ms === undefined || ms < 1000 || ms > 24 * 3_600_000) {
    throw new ConfigError(`--duration: expected a duration from 1s to 24h like "20s", "2m" or a number of seconds, got ${JSON.stringify(text)}`);
  }
  return ms;
}

function parseIntFlag(flag: string, text: string, min: number, max: number): number {
  const n = /^\d{1,6}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(`${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}
