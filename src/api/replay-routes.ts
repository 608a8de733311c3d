/**
 * The replay calls of the API (Playback nodes): start, list, read, cancel or delete replays, and
 * page through their per-record results.
 *
 *   POST   /api/replays                 start an on-demand replay (JSON body)   → 201 replay
 *   GET    /api/replays?limit=N         newest first                            → 200 {replays}
 *   GET    /api/replays/{id}            progress and summary                    → 200 replay
 *   DELETE /api/replays/{id}            running: cancel → 200 replay; finished: delete → 204
 *   GET    /api/replays/{id}/results?status=mismatch&limit=N&cursor=C         → 200 {results, next}
 *   GET    /api/replays/{id}/results/{record_id}   one result, both answers side by side → 200
 */
import type { Logger } from '../core/log.js';
import type { ReplaysApi, ResponseSide, ResultDetail } from '../playback/index.js';
import { ApiError } from './api-errors.js';
import { bodyToJson } from './record-json.js';
import { parseReplayRequest } from './replay-request.js';
import type { RequestContext, Route } from './router.js';

export type { ReplaysApi } from '../playback/index.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const ID = /^[A-Za-z0-9_-]{1,128}$/;

function badParam(message: string): ApiError {
  return new ApiError(400, 'QP_ERR_API_BAD_PARAM', message);
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'QP_ERR_API_REPLAY_NOT_FOUND', `replay ${id.slice(0, 128)} not found`);
}

function replayId(ctx: RequestContext): string {
  const id = ctx.params.id ?? '';
  if (!ID.test(id)) throw notFound(id);
  return id;
}

/** Only the named parameters, each at most once. */
function query(ctx: RequestContext, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of ctx.query) {
    if (!known.includes(name)) throw badParam(`unknown query parameter ${JSON.stringify(name.slice(0, 64))}; known: ${known.join(', ') || 'none'}`);
    if (name in out) throw badParam(`query parameter ${name} is given more than once`);
    out[name] = value;
  }
  return out;
}

function limitOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw badParam(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(value.slice(0, 64))}`);
  return n;
}

/** The replay routes, bound to the node's replays. */
export function replayRoutes(replays: ReplaysApi, audit: Logger): Route[] {
  return [
    {
      path: '/api/replays',
      methods: {
        GET: (ctx) => ({ status: 200, json: { replays: replays.list(limitOf(query(ctx, ['limit']).limit)) } }),
        POST: (ctx) => {
          query(ctx, []);
          const req = parseReplayRequest(ctx.body?.toString('utf8') ?? '');
          const doc = replays.create(req) as { id: string };
          audit.info({ action: 'replay.start', id: doc.id, client: ctx.req.socket.remoteAddress }, 'API replay start');
          return { status: 201, json: doc, headers: { Location: `/api/replays/${doc.id}` } };
        },
      },
    },
    {
      path: '/api/replays/:id',
      methods: {
        GET: (ctx) => {
          query(ctx, []);
          const id = replayId(ctx);
          const doc = replays.get(id);
          if (doc === null) throw notFound(id);
          return { status: 200, json: doc };
        },
        DELETE: async (ctx) => {
          query(ctx, []);
          const id = replayId(ctx);
          const out = await replays.remove(id);
          audit.info({ action: out === 'deleted' ? 'replay.delete' : 'replay.cancel', id, found: out !== null, client: ctx.req.socket.remoteAddress }, 'API replay delete');
          if (out === null) throw notFound(id);
          return out === 'deleted' ? { status: 204 } : { status: 200, json: out };
        },
      },
    },
    {
      path: '/api/replays/:id/results',
      methods: {
        GET: (ctx) => {
          const q = query(ctx, ['status', 'limit', 'cursor']);
          const id = replayId(ctx);
          if (q.cursor !== undefined && (q.cursor === '' || q.cursor.length > 64)) {
            throw badParam('cursor must be the "next" value of the previous page, unchanged');
          }
          const page = replays.results(id, {
            limit: limitOf(q.limit),
            ...(q.status !== undefined && { status: q.status }),
            ...(q.cursor !== undefined && { cursor: q.cursor }),
          });
          if (page === null) throw notFound(id);
          return { status: 200, json: page };
        },
      },
    },
    {
      path: '/api/replays/:id/results/:record',
      methods: {
        GET: (ctx) => {
          query(ctx, []);
          const id = replayId(ctx);
          const record = ctx.params.record ?? '';
          if (replays.get(id) === null) throw notFound(id);
          const detail = ID.test(record) ? replays.result(id, record) : null;
          if (detail === null) {
            throw new ApiError(404, 'QP_ERR_API_RESULT_NOT_FOUND', `replay ${id} has no result for record ${record.slice(0, 128)} (yet)`);
          }
          return { status: 200, json: resultDetailToJson(detail) };
        },
      },
    },
  ];
}

const sideToJson = (side: ResponseSide | null) => side && { status: side.status, headers: side.headers, body: bodyToJson(side.body) };

/** Bodies as the record API shows them (base64, plus text when UTF-8). */
function resultDetailToJson(d: ResultDetail): object {
  return { result: d.result, recorded: sideToJson(d.recorded), replayed: sideToJson(d.replayed), comparison: d.comparison, compare: d.compare };
}
