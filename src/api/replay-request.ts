/**
 * Reads the JSON body of `POST /api/replays` into a ReplayRequest. Unknown keys are errors, like in
 * the config file (a typo such as "sped" must not silently replay at full speed); every message
 * names the field.
 */
import { z } from 'zod';
import { headerName, jsonPath, nonEmpty, regexSource } from '../config/fields.js';
import { methodList, pathGlob, safetyAction, safetyRuleSchema } from '../config/schema-playback.js';
import { MAX_TIMER_MS, duration } from '../config/units.js';
import type { ReplayRequest } from '../playback/index.js';
import { ApiError } from './api-errors.js';
import { parseIso8601 } from '../core/iso8601.js';

/** Ids in one `ids` replay. */
export const MAX_IDS = 10_000;

const isoTime = z
  .string({ error: 'expected an ISO 8601 date-time such as "2024-05-01T12:00:00Z"' })
  .transform((value, ctx) => {
    const ms = parseIso8601(value);
    if (ms === null) {
      ctx.issues.push({ code: 'custom', message: 'expected an ISO 8601 date-time such as "2024-05-01T12:00:00Z"', input: value });
      return z.NEVER;
    }
    return ms;
  });

const list = <T extends z.ZodType>(item: T, what: string) => z.array(item, { error: `expected a list of ${what}` });

const bodySchema = z.strictObject({
  start: isoTime.optional(),
  end: isoTime.optional(),
  ids: list(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { error: 'expected a record id' }), 'record ids')
    .min(1, { error: 'expected at least one record id' })
    .max(MAX_IDS, { error: `expected at most ${MAX_IDS} record ids` })
    .optional(),
  protocol: z.enum(['http', 'tcp'], { error: 'expected "http" or "tcp"' }).optional(),
  method: methodList().optional(),
  path: pathGlob().optional(),
  node_id: nonEmpty('a node id').optional(),
  speed: z.number({ error: 'expected a number ≥ 0' }).min(0, { error: 'expected a number ≥ 0' }).max(1000, { error: 'expected at most 1000' }).optional(),
  rate: z.number({ error: 'expected a number ≥ 0' }).min(0, { error: 'expected a number ≥ 0' }).max(1_000_000, { error: 'expected at most 1000000' }).optional(),
  max_gap: duration({ example: '10s', max: MAX_TIMER_MS }).optional(),
  concurrency: z
    .int({ error: 'expected a whole number from 1 to 10000' })
    .min(1, { error: 'expected a whole number from 1 to 10000' })
    .max(10_000, { error: 'expected a whole number from 1 to 10000' })
    .optional(),
  limit: z.int({ error: 'expected a whole number ≥ 1' }).min(1, { error: 'expected a whole number ≥ 1' }).optional(),
  compare: z
    .strictObject({
      status: z.boolean({ error: 'expected true or false' }).optional(),
      headers: list(z.union([z.literal('*'), headerName()], { error: 'expected a header name or "*"' }), 'header names').optional(),
      body: z.boolean({ error: 'expected true or false' }).optional(),
      truncated: z.enum(['prefix', 'skip'], { error: 'expected "prefix" or "skip"' }).optional(),
      ignore: z
        .strictObject({
          headers: list(headerName(), 'header names').optional(),
          json_paths: list(jsonPath(), 'JSON paths').optional(),
          patterns: list(regexSource(), 'regular expressions').optional(),
        })
        .optional(),
    })
    .optional(),
  safety: z
    .strictObject({
      rules: list(safetyRuleSchema, 'rules').optional(),
      safe_methods: safetyAction().optional(),
      unsafe_methods: safetyAction().optional(),
    })
    .optional(),
});

function badBody(message: string): ApiError {
  return new ApiError(400, 'QP_ERR_API_BAD_PARAM', message);
}

/** Parses and checks the body; throws ApiError 400 naming every problem. */
export function parseReplayRequest(text: string): ReplayRequest {
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw badBody(`the body is not JSON (${(err as Error).message}); send an object such as {"start": "2024-05-01T12:00:00Z", "speed": 2}`);
  }
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`);
    throw badBody(problems.join('; '));
  }
  const b = parsed.data;
  if (b.ids !== undefined && (b.start !== undefined || b.end !== undefined)) throw badBody('give either ids or a time range (start/end), not both');
  if (b.start !== undefined && b.end !== undefined && b.start >= b.end) throw badBody('start must be before end');
  return {
    ...(b.start !== undefined && { start: b.start }),
    ...(b.end !== undefined && { end: b.end }),
    ...(b.ids !== undefined && { ids: b.ids }),
    filter: {
      ...(b.protocol !== undefined && { protocol: b.protocol }),
      ...(b.method !== undefined && !b.method.includes('*') && { methods: b.method }),
      ...(b.path !== undefined && { path: b.path }),
      ...(b.node_id !== undefined && { node_id: b.node_id }),
    },
    ...(b.speed !== undefined && { speed: b.speed }),
    ...(b.rate !== undefined && { rate: b.rate }),
    ...(b.max_gap !== undefined && { maxGapMs: b.max_gap }),
    ...(b.concurrency !== undefined && { concurrency: b.concurrency }),
    ...(b.limit !== undefined && { limit: b.limit }),
    ...(b.compare !== undefined && { compare: b.compare }),
    ...(b.safety !== undefined && { safety: b.safety }),
  };
}
