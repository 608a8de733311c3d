/**
 * Argument parsing shared by the API commands: strict `node:util` parseArgs plus the options every
 * command has (`--api`, `--token`, `--help`), relative times and checked numbers.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseIso8601 } from '../core/iso8601.js';
import { QProxyError, errorMessage } from '../core/errors.js';

/** A bad command line: the command prints its usage and exits with code 2. */
export class UsageError extends QProxyError {
  constructor(message: string) {
    super('QP_ERR_CLI_USAGE', message);
  }
}

/** The options every API command takes. */
export const COMMON_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** Where the API is and how to authenticate, from flags first, then the environment. */
export interface ApiTarget {
  baseUrl: string;
  token: string | undefined;
}

export const DEFAULT_API_URL = 'http://127.0.0.1:8085';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs refuses `--start -1h` as ambiguous (the value looks like a flag). A value that is a
 * negative number or a relative time cannot be a flag, so it is glued to its option first.
 */
function joinDashValues(args: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.startsWith('--') ? arg.slice(2) : null;
    const next = args[i + 1];
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Strict parse of a command's arguments; throws UsageError for unknown flags or missing values. */
export function parseCommandArgs<O extends Options>(args: readonly string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: joinDashValues(args, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err).split('\n')[0]!);
  }
}

/** `--api`/`QPROXY_API_URL` and `--token`/`QPROXY_API_TOKEN`. */
export function apiTarget(values: { api?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv): ApiTarget {
  const raw = values.api ?? (env.QPROXY_API_URL || DEFAULT_API_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api must be an http(s) URL such as ${DEFAULT_API_URL}, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api must be an http(s) URL such as ${DEFAULT_API_URL}, got ${JSON.stringify(raw)}`);
  }
  const token = values.token ?? (env.QPROXY_API_TOKEN || undefined);
  return { baseUrl: url.href.replace(/\/+$/, ''), token };
}

const RELATIVE = /^-(\d+(?:\.\d+)?)(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A time option: ISO 8601 (passed on unchanged), `now`, or a relative time in the past such as
 * `-15m`, `-2h`, `-1d` (converted to ISO here, so the API only ever sees absolute times).
 */
export function timeOption(name: string, value: string, now: number): string {
  if (value === 'now') return new Date(now).toISOString();
  const rel = RELATIVE.exec(value);
  if (rel !== null) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!).toISOString();
  if (parseIso8601(value) === null) {
    throw new UsageError(`--${name} must be an ISO 8601 time (2024-05-01T12:00:00Z), "now", or relative like -15m, -2h, -1d; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A whole number option within bounds. */
export function intOption(name: string, value: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** A decimal number option within bounds. */
export function numberOption(name: string, value: string, min: number, max: number): number {
  const n = /^\d+(?:\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** Exactly `count` positionals (after the subcommand), or a UsageError naming what is missing. */
export function positionals(list: readonly string[], names: readonly string[]): string[] {
  if (list.length < names.length) throw new UsageError(`missing ${names.slice(list.length).join(' ')}`);
  if (list.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(list[names.length])}`);
  return [...list];
}
