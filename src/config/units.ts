/**
 * Sizes and durations as operators write them: `"64KiB"`, `"10GiB"`, `"1.5GB"`, `"30s"`, `"1h30m"`,
 * or plain numbers (bytes, milliseconds). The zod schemas accept both forms and output numbers; the
 * JSON Schema they produce (input side) carries the same patterns so editors flag typos too.
 */
import { z } from 'zod';

const SIZE_FACTORS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const DURATION_FACTORS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// Written without the `i` flag on purpose: JSON Schema `pattern` has no flags, and the same source is
// published in config.schema.json.
const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgGtT][iI]?[bB])?\\s*$';
const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?\\s*([mM][sS]|[sSmMhHdD])\\s*)+$';
const SIZE_RE = new RegExp(SIZE_PATTERN);
const DURATION_RE = new RegExp(DURATION_PATTERN);
const DURATION_PART_RE = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/gi;

/**
 * The largest delay Node timers honour (2^31 − 1 ms, about 24.8 days); longer ones fire at once.
 * Durations that feed a timer are capped at 24 days so the message can say so in round units.
 */
export const MAX_TIMER_MS = 24 * DURATION_FACTORS.d!;

/**
 * Parses `"64KiB"`, `"1.5GiB"`, `"10MB"`, `"512B"` or `"1024"` (units are case-insensitive; KiB = 1024,
 * KB = 1000). Fractions round down to whole bytes.
 *
 * @returns the number of bytes, or `undefined` when the text is not a size or exceeds 2^53 − 1.
 */
export function parseSize(text: string): number | undefined {
  if (!SIZE_RE.test(text)) return undefined;
  const m = /(\d+(?:\.\d+)?)\s*([a-z]*)/i.exec(text)!;
  const factor = SIZE_FACTORS[m[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * Parses `"500ms"`, `"30s"`, `"5m"`, `"72h"`, `"7d"`, decimals (`"1.5h"`) and compounds (`"1h30m"`).
 * A unit is required: a bare `"30"` is ambiguous between seconds and milliseconds, so it is refused.
 *
 * @returns whole milliseconds (fractions round down), or `undefined` when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(DURATION_PART_RE)) {
    ms += Number(m[1]) * DURATION_FACTORS[m[2]!.toLowerCase()]!;
  }
  const whole = Math.floor(ms);
  return Number.isSafeInteger(whole) ? whole : undefined;
}

/** Renders bytes in the largest binary unit that divides them exactly: 16384 → `"16KiB"`. */
export function formatSize(bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const factor = SIZE_FACTORS[unit.toLowerCase()]!;
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/** Renders milliseconds as a compound duration: 5400000 → `"1h30m"`, 0 → `"0ms"`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const factor = DURATION_FACTORS[unit]!;
    const n = Math.floor(rest / factor);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * factor;
  }
  return out;
}

/** Bounds and wording for {@link size} and {@link duration}. */
export interface UnitOptions {
  /** Smallest accepted value (bytes or ms); default 0. */
  min?: number;
  /** Largest accepted value (bytes or ms); default 2^53 − 1. */
  max?: number;
  /** The value shown in the error message's "like …" hint; usually the field's default. */
  example?: string;
}

/**
 * A size field: a non-negative whole number of bytes, or a string such as `"64KiB"`. Outputs bytes.
 * Every failure carries one message: `expected a size like "<example>" or a number of bytes`, or a
 * bound (`expected a size of at least "1KiB"`).
 */
export function size(opts: UnitOptions = {}) {
  const expected = `expected a size like "${opts.example ?? '64KiB'}" or a number of bytes`;
  return unitSchema({ ...opts, expected, pattern: SIZE_RE, parse: parseSize, format: formatSize, noun: 'size' });
}

/**
 * A duration field: a non-negative whole number of milliseconds, or a string such as `"30s"` or
 * `"1h30m"`. Outputs milliseconds.
 */
export function duration(opts: UnitOptions = {}) {
  const expected = `expected a duration like "${opts.example ?? '30s'}" or a number of milliseconds`;
  return unitSchema({ ...opts, expected, pattern: DURATION_RE, parse: parseDuration, format: formatDuration, noun: 'duration' });
}

/** Any non-negative size: `64KiB`-style strings or bytes. */
export const sizeSchema = size();

/** Any non-negative duration: `30s`-style strings or milliseconds. */
export const durationSchema = duration();

interface UnitSpec extends UnitOptions {
  expected: string;
  pattern: RegExp;
  parse: (text: string) => number | undefined;
  format: (n: number) => string;
  noun: string;
}

function unitSchema(spec: UnitSpec) {
  const min = spec.min ?? 0;
  const max = spec.max ?? Number.MAX_SAFE_INTEGER;
  const error = spec.expected;
  // Bounds are checked after parsing, for numbers and strings alike, so the message can name them.
  const asNumber = z.int({ error }).min(0, { error });
  const asText = z.string({ error }).regex(spec.pattern, { error });
  return z.union([asNumber, asText], { error }).transform((value, ctx) => {
    const n = typeof value === 'number' ? value : spec.parse(value);
    if (n === undefined) {
      ctx.issues.push({ code: 'custom', message: error, input: value });
      return z.NEVER;
    }
    if (n < min || n > max) {
      const bound = n < min ? `at least "${spec.format(min)}"` : `at most "${spec.format(max)}"`;
      ctx.issues.push({ code: 'custom', message: `expected a ${spec.noun} of ${bound}`, input: value });
      return z.NEVER;
    }
    return n;
  });
}
