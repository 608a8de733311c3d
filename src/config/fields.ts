/**
 * Leaf schemas shared by the config sections. Each one fails with a single message that starts with
 * "expected …", so the formatter can print `path: got <value> — expected …` for any failure.
 */
import { z } from 'zod';
import { downstreamUrlProblem, isHostName, isIpOrCidr, parseHostPort } from './addresses.js';

const PORT_RANGE = 'expected an integer port 1-65535';

/** A port to listen on: 1-65535, or 0 for "any free port" (tests and demos read it back). */
export function listenPort() {
  const error = `${PORT_RANGE} (or 0 for any free port)`;
  return z.int({ error }).min(0, { error }).max(65535, { error });
}

/** A port to connect to: 1-65535. */
export function remotePort() {
  return z.int({ error: PORT_RANGE }).min(1, { error: PORT_RANGE }).max(65535, { error: PORT_RANGE });
}

/** An IP address or DNS name. */
export function hostName() {
  const error = 'expected a host name or IP address like "127.0.0.1"';
  return z.string({ error }).min(1, { error }).refine(isHostName, { error });
}

/** A file path; relative paths are resolved against the config file's folder by the loader. */
export function filePath(what: string) {
  const error = `expected a path to ${what}`;
  return z
    .string({ error })
    .min(1, { error })
    .refine((p) => !p.includes('\0'), { error });
}

/** A shared secret sent in headers or used as a key: printable ASCII without spaces. */
export function secret(what: string) {
  const error = `expected ${what} of printable ASCII characters without spaces`;
  return z.string({ error }).regex(/^[\x21-\x7e]+$/, { error });
}

/** A whole number with bounds, for counts and limits. */
export function count(min: number, max = Number.MAX_SAFE_INTEGER) {
  const error = max === Number.MAX_SAFE_INTEGER ? `expected a whole number ≥ ${min}` : `expected a whole number from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** One downstream base URL (http:// or https://). The message says what is wrong with it. */
function downstreamUrl() {
  const expected = 'expected an http:// or https:// URL like "http://localhost:8081"';
  return z.string({ error: expected }).superRefine((value, ctx) => {
    const problem = downstreamUrlProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${expected} (${problem})`, input: value });
  });
}

/** One URL or a non-empty list of them; outputs the list. */
export function downstreamUrls() {
  const error = 'expected an http:// or https:// URL, or a non-empty list of them';
  return z
    .union([downstreamUrl(), z.array(downstreamUrl(), { error }).min(1, { error })], { error })
    .transform((v) => (typeof v === 'string' ? [v] : v));
}

/** One `host:port` or a non-empty list of them; outputs the list. */
export function hostPorts() {
  const each = 'expected "host:port" like "localhost:8083" or "[::1]:6379"';
  const one = z.string({ error: each }).refine((v) => parseHostPort(v) !== undefined, { error: each });
  const error = 'expected a non-empty list of "host:port" strings like ["localhost:8083"]';
  return z.union([one, z.array(one, { error }).min(1, { error })], { error }).transform((v) => (typeof v === 'string' ? [v] : v));
}

/** An IP address or CIDR range. */
export function ipOrCidr() {
  const error = 'expected an IP address or CIDR range like "10.0.0.0/8"';
  return z.string({ error }).refine(isIpOrCidr, { error });
}

/** HTTP header names are case-insensitive; they are output lower-cased. */
export function headerName() {
  const error = 'expected an HTTP header name like "x-api-key"';
  return z
    .string({ error })
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error })
    .transform((v) => v.toLowerCase());
}

/** A non-empty plain string, for names such as query parameters. */
export function nonEmpty(what: string) {
  const error = `expected ${what}`;
  return z.string({ error }).min(1, { error });
}

/**
 * The JSONPath subset redaction supports (see src/recording/json-path.ts): `$`, `.name`, `..name`,
 * `.*`, `[n]`, `[*]`, `['name']`, each optionally after `..`.
 */
export function jsonPath() {
  const error = 'expected a JSON path like "$.password", "$..token" or "$.items[*].card"';
  return z.string({ error }).regex(/^\$(?:\.[^.[]+|\.\.[^.[]+|(?:\.\.)?\[(?:\d+|\*|'[^']*'|"[^"]*")\])*$/, { error });
}

/** A JavaScript regular expression source; it must compile (with the `g` flag redaction adds). */
export function regexSource() {
  const expected = 'expected a valid JavaScript regular expression';
  return z.string({ error: expected }).superRefine((value, ctx) => {
    try {
      new RegExp(value, 'g');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      ctx.addIssue({ code: 'custom', message: `${expected} (${why})`, input: value });
    }
  });
}
