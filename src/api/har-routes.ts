/**
 * The HAR calls of the API (issue #7, HAR 1.2 interop):
 *
 *   GET  /api/records?format=har&start=…&end=…&limit=N&cursor=C   → 200 HAR document, `log._next` pages on
 *        (the list's filters method=, status=, q= apply too)
 *   GET  /api/records/{id}?format=har                           → 200 HAR document of that one record
 *   POST /api/records?format=har[&node_id=NAME][&replay=true]  (HAR as JSON)
 *                                                    → 201 {imported, skipped, ids[, replay]}
 *
 * A page is selected as the JSON list selects it (newest first, same cursor), HTTP records only, and
 * cut short when its records exceed {@link HAR_PAGE_MAX_BYTES} stored bytes. Imports go into a
 * Playback node's store only: a Record node's store feeds its sync sender, so imported traffic would
 * reach the peer as if it had been recorded. Imported records are not replayed against zone B unless
 * the import asks (`replay=true`: an on-demand replay of exactly those records); the live replay
 * passes over them.
 */
import type { Logger } from '../core/log.js';
import { recordToEntry, recordsToHar } from '../har/export.js';
import { harDocumentPieces, lazyEntryPieces, type LazyHttp } from '../har/export-stream.js';
import type { JsonPiece } from '../core/json-pieces.js';
import { JSON_TYPE } from './http-reply.js';
import { QProxyError, errorMessage } from '../core/errors.js';
import { importHar, parseHarText } from '../har/import.js';
import type { ReplaysApi } from '../playback/index.js';
import type { QRecord } from '../recording/model.js';
import { ApiError } from './api-errors.js';
import { listFiltered, parseRecordFilter } from './records-filter.js';
import { parseRecordQuery } from './records-query.js';
import type { RecordQuery } from './records-query.js';
import type { Handler, Reply } from './router.js';
import type { ApiRecords, RecordPage } from './routes.js';

/** Largest HAR document `POST /api/records?format=har` takes. */
export const HAR_MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Stored bytes (bodies and documents) of the records in one HAR page, at most; at least one record is always sent. */
export const HAR_PAGE_MAX_BYTES = 64 * 1024 * 1024;

/** Where imported records go: the store's ingest (one transaction; ids already stored are skipped). */
export interface RecordImporter {
  ingest(records: QRecord[]): Promise<{ stored: number; skipped: number }>;
}

export interface HarRouteDeps {
  records: ApiRecords;
  /** QProxy's version, the HAR's `creator.version`. */
  version: string;
  /** Absent on Record nodes: imports are refused with 409. */
  importer?: RecordImporter;
  /** Starts the replay of an import that asks for one (`replay=true`). */
  replays?: ReplaysApi;
  audit: Logger;
}

const NODE_ID = /^[\x21-\x7e]{1,128}$/;

function badParam(message: string): ApiError {
  return new ApiError(400, 'QP_ERR_API_BAD_PARAM', message);
}

function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

function checkFormat(params: URLSearchParams, missing: string): void {
  const formats = params.getAll('format');
  if (formats.length === 0) throw badParam(missing);
  if (formats.length > 1) throw badParam('query parameter format is given more than once');
  if (formats[0] !== 'har') throw badParam(`format must be "har", got ${shown(formats[0]!)}`);
}

/** The list query without `format`; HAR holds HTTP records only. */
function harQuery(params: URLSearchParams): RecordQuery {
  checkFormat(params, 'format is missing');
  const rest = new URLSearchParams([...params].filter(([name]) => name !== 'format'));
  const q = parseRecordQuery(rest);
  if (q.protocol === 'tcp') throw badParam('format=har holds HTTP records only; leave protocol out or set it to http');
  return { ...q, protocol: 'http' };
}

/** How many of the page's records fit the byte budget (at least one). */
function fitting(page: RecordPage): number {
  let bytes = 0;
  for (let i = 0; i < page.records.length; i++) {
    bytes += page.records[i]!.size_bytes;
    if (bytes > HAR_PAGE_MAX_BYTES) return Math.max(i, 1);
  }
  return page.records.length;
}

const IMPORT_PARAMS = ['format', 'node_id', 'replay'];
const BOOLEAN: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false };

function importParams(params: URLSearchParams): { nodeId?: string; replay: boolean } {
  for (const name of new Set(params.keys())) {
    if (!IMPORT_PARAMS.includes(name)) throw badParam(`unknown query parameter ${shown(name)}; known: ${IMPORT_PARAMS.join(', ')}`);
    if (params.getAll(name).length > 1) throw badParam(`query parameter ${name} is given more than once`);
  }
  checkFormat(params, 'POST /api/records imports a HAR document: add ?format=har to the URL');
  const replayParam = params.get('replay') ?? 'false';
  const replay = BOOLEAN[replayParam];
  if (replay === undefined) throw badParam(`replay must be true or false, got ${shown(replayParam)}`);
  const nodeId = params.get('node_id');
  if (nodeId === null) return { replay };
  if (!NODE_ID.test(nodeId)) throw badParam(`node_id must be 1-128 visible ASCII characters, got ${shown(nodeId)}`);
  return { nodeId, replay };
}

/** The on-demand replay of an import's records; the records stay imported if it cannot start. */
function replayImport(replays: ReplaysApi, ids: string[]): { id: string } {
  try {
    return replays.create({ ids, filter: {} });
  } catch (err) {
    if (!(err instanceof QProxyError)) throw err;
    throw new QProxyError(err.code, `the ${ids.length} records were imported, but their replay could not start: ${errorMessage(err)}; replay them later with POST /api/replays {"ids": [...]} (importing the file again lists the ids and stores nothing)`, { cause: err });
  }
}

/**
 * The page's entries as JSON text, read one record at a time as the response is written: large
 * bodies piece by piece (export-stream.ts), so a page of 64 MiB is never held whole.
 */
function* pageEntries(records: ApiRecords, ids: readonly string[]): Generator<Iterable<JsonPiece>, void, undefined> {
  for (const id of ids) {
    const lazy = records.getLazy?.(id) ?? null;
    if (lazy !== null) {
      yield lazyEntryPieces(lazy);
      continue;
    }
    const r = records.get(id);
    // Deleted or purged since listed: left out.
    if (r?.protocol === 'http') yield [JSON.stringify(recordToEntry(r))];
  }
}

/** `GET /api/records?format=har`. */
export function harListHandler(d: HarRouteDeps): Handler {
  return (ctx) => {
    const q = harQuery(ctx.query);
    const filter = parseRecordFilter(ctx.query);
    let page = listFiltered(d.records, q, filter);
    const fit = fitting(page);
    // Asking again with the smaller limit gets the store's cursor for exactly that page.
    if (fit < page.records.length) page = listFiltered(d.records, { ...q, limit: fit }, filter);
    // recordsToHar's order: start time, then id (started_at is whole milliseconds, as the summary has it).
    const ids = page.records
      .map((s) => ({ id: s.id, t: Date.parse(s.started_at) }))
      .sort((a, b) => a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((s) => s.id);
    return { status: 200, stream: harDocumentPieces(pageEntries(d.records, ids), { version: d.version, next: page.next }), contentType: JSON_TYPE };
  };
}

/** The query of `GET /api/records/{id}?format=har`: `format=har` and nothing else. */
export function checkHarRecordParams(params: URLSearchParams): void {
  for (const name of new Set(params.keys())) {
    if (name !== 'format') throw badParam(`unknown query parameter ${shown(name)}; known: format`);
  }
  checkFormat(params, 'format is missing');
}

/** `GET /api/records/{id}?format=har`: one HTTP record as a HAR document (null when the record is absent). */
export function harRecord(record: QRecord, params: URLSearchParams, version: string): object {
  checkHarRecordParams(params);
  if (record.protocol !== 'http') throw badParam(`record ${record.id} is a TCP session; HAR holds HTTP exchanges only`);
  return recordsToHar([record], { version, next: null });
}

/** `GET /api/records/{id}?format=har` of a record with large bodies, written piece by piece (params checked already). */
export function harRecordStream(lazy: LazyHttp, version: string): Reply {
  return { status: 200, stream: harDocumentPieces([lazyEntryPieces(lazy)], { version, next: null }), contentType: JSON_TYPE };
}

/** `POST /api/records?format=har`. */
export function harImportHandler(d: HarRouteDeps): Handler {
  return async (ctx) => {
    const opts = importParams(ctx.query);
    if (d.importer === undefined) {
      throw new ApiError(
        409,
        'QP_ERR_API_IMPORT_NOT_ALLOWED',
        'this is a Record node: its store feeds sync, so imported traffic would be sent to the peer as if recorded here; import the HAR on a Playback node',
      );
    }
    if (opts.replay && d.replays === undefined) {
      throw new ApiError(409, 'QP_ERR_API_IMPORT_NOT_ALLOWED', 'this node cannot replay: import without replay=true');
    }
    const records = importHar(parseHarText(ctx.body ?? ''), opts.nodeId !== undefined ? { nodeId: opts.nodeId } : {});
    const result = records.length === 0 ? { stored: 0, skipped: 0 } : await d.importer.ingest(records);
    const ids = records.map((r) => r.id);
    const replay = opts.replay && ids.length > 0 ? replayImport(d.replays!, ids) : null;
    d.audit.info(
      {
        action: 'records.import',
        format: 'har',
        entries: records.length,
        imported: result.stored,
        skipped: result.skipped,
        ...(opts.nodeId !== undefined && { node_id: opts.nodeId }),
        replay: replay?.id ?? null,
        client: ctx.req.socket.remoteAddress,
      },
      'API import',
    );
    return { status: 201, json: { imported: result.stored, skipped: result.skipped, ids, ...(opts.replay && { replay }) } };
  };
}
