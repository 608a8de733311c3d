import type { Logger } from '../core/log.js';
import type { QRecord, RecordSummary } from '../recording/model.js';
import { ApiError } from './api-errors.js';
import { isLarge, loaded, type LazyHttp } from '../har/export-stream.js';
import { HAR_MAX_BODY_BYTES, checkHarRecordParams, harImportHandler, harListHandler, harRecord, harRecordStream, type RecordImporter } from './har-routes.js';
import { JSON_TYPE } from './http-reply.js';
import { recordJsonPieces } from './record-stream.js';
import { conversationPage, recordConversation } from './conversation-json.js';
import { websocketPage } from './websocket-json.js';
import { recordToJson } from './record-json.js';
import { listFiltered, parseRecordFilter } from './records-filter.js';
import { parseRecordQuery } from './records-query.js';
import { replayRoutes, type ReplaysApi } from './replay-routes.js';
import type { RecordQuery } from './records-query.js';
import type { Reply, RequestContext, Route } from './router.js';

/** One page of `GET /api/records`, newest first. */
export interface RecordPage {
  records: RecordSummary[];
  /** Cursor of the next page, null on the last one. */
  next: string | null;
}

/** What the API needs from the store (which implements it structurally). */
export interface ApiRecords {
  /** Throws a QProxyError with code QP_ERR_BAD_CURSOR for a cursor it did not issue. */
  list(q: RecordQuery): RecordPage;
  get(id: string): QRecord | null;
  /**
   * The HTTP record with its bodies left in the store, to be read piece by piece; null when absent
   * or not kept that way (then `get`). The store's getLazy.
   */
  getLazy?(id: string): LazyHttp | null;
  /** True when the record existed and is gone. */
  delete(id: string): Promise<boolean>;
}

/** Everything the routes read from the rest of the node. */
export interface RouteDeps {
  records: ApiRecords;
  status: () => object;
  metrics: { render(): Promise<string>; contentType: string };
  /** True: ready. False: draining. A string: not ready for that reason (the store file is gone, …). */
  ready: () => boolean | string;
  /** Destructive calls are logged here (OWASP logging: who, what, result). */
  audit: Logger;
  /** Replays of a Playback node; absent on Record nodes (the replay routes then answer 404). */
  replays?: ReplaysApi;
  /** QProxy's version, written into HAR exports. */
  version: string;
  /** Takes HAR imports on Playback nodes; absent on Record nodes (imports then answer 409). */
  importer?: RecordImporter;
}

// Record ids are UUIDv7 (or ULIDs); anything else cannot name a record, and never reaches the store.
const RECORD_ID = /^[A-Za-z0-9_-]{1,128}$/;

function json(status: number, body: unknown): Reply {
  return { status, json: body };
}

function recordId(ctx: RequestContext): string {
  const id = ctx.params.id ?? '';
  if (RECORD_ID.test(id)) return id;
  throw recordNotFound(id.length > 128 ? `${id.slice(0, 128)}…` : id);
}

function recordNotFound(id: string): ApiError {
  return new ApiError(404, 'QP_ERR_API_RECORD_NOT_FOUND', `record ${id} not found`);
}

/** The API's routes (SPEC §7), bound to the node's components. */
export function apiRoutes(d: RouteDeps): Route[] {
  const har = {
    records: d.records,
    version: d.version,
    audit: d.audit,
    ...(d.importer !== undefined && { importer: d.importer }),
    ...(d.replays !== undefined && { replays: d.replays }),
  };
  const harList = harListHandler(har);
  return [
    { path: '/healthz', public: true, methods: { GET: () => json(200, { status: 'ok' }) } },
    {
      path: '/readyz',
      public: true,
      methods: {
        GET: () => {
          const r = d.ready();
          if (r === true) return json(200, { status: 'ready' });
          return json(503, r === false ? { status: 'draining' } : { status: 'unready', reason: r });
        },
      },
    },
    {
      path: '/metrics',
      methods: { GET: async () => ({ status: 200, text: await d.metrics.render(), contentType: d.metrics.contentType }) },
    },
    { path: '/api/status', methods: { GET: () => json(200, d.status()) } },
    {
      path: '/api/records',
      maxBodyBytes: HAR_MAX_BODY_BYTES,
      methods: {
        GET: (ctx) => {
          if (ctx.query.has('format')) return harList(ctx);
          const page = listFiltered(d.records, parseRecordQuery(ctx.query), parseRecordFilter(ctx.query));
          return json(200, { records: page.records, next: page.next });
        },
        POST: harImportHandler(har),
      },
    },
    {
      path: '/api/records/:id',
      methods: {
        GET: (ctx) => {
          const id = recordId(ctx);
          const har = [...ctx.query.keys()].length > 0;
          const lazy = d.records.getLazy?.(id) ?? null;
          // Large bodies are written piece by piece, never held whole (export-stream.ts, record-stream.ts).
          if (lazy !== null && isLarge(lazy)) {
            if (!har) return { status: 200, stream: recordJsonPieces(lazy), contentType: JSON_TYPE };
            checkHarRecordParams(ctx.query);
            return harRecordStream(lazy, d.version);
          }
          const record = lazy !== null ? loaded(lazy) : d.records.get(id);
          if (record === null) throw recordNotFound(id);
          if (har) return json(200, harRecord(record, ctx.query, d.version));
          if (record.protocol === 'tcp' && record.app_protocol !== undefined) return json(200, { ...recordToJson(record), conversation: recordConversation(record) });
          return json(200, recordToJson(record));
        },
        DELETE: async (ctx) => {
          const id = recordId(ctx);
          const deleted = await d.records.delete(id);
          d.audit.info({ action: 'record.delete', id, deleted, client: ctx.req.socket.remoteAddress }, 'API delete');
          if (!deleted) throw recordNotFound(id);
          return { status: 204 };
        },
      },
    },
    {
      path: '/api/records/:id/conversation',
      methods: {
        GET: (ctx) => {
          const id = recordId(ctx);
          const record = d.records.get(id);
          if (record === null) throw recordNotFound(id);
          if (record.protocol !== 'tcp') throw new ApiError(409, 'QP_ERR_API_NOT_PROTOCOL', `record ${id} is an HTTP exchange, not a protocol session`);
          return json(200, conversationPage(record, ctx.query));
        },
      },
    },
    {
      path: '/api/records/:id/websocket',
      methods: {
        GET: (ctx) => {
          const id = recordId(ctx);
          const record = d.records.get(id);
          if (record === null) throw recordNotFound(id);
          if (record.protocol !== 'http') throw new ApiError(409, 'QP_ERR_API_NOT_PROTOCOL', `record ${id} is a TCP session, not a WebSocket connection`);
          return json(200, websocketPage(record, ctx.query));
        },
      },
    },
    ...(d.replays ? replayRoutes(d.replays, d.audit) : []),
  ];
}
