/**
 * `qproxy records`: list records as a table or JSON, show one record, delete one.
 */
import type { RecordSummary } from '../recording/model.js';
import { ApiClient } from './api-client.js';
import { COMMON_OPTIONS, UsageError, apiTarget, parseCommandArgs, positionals } from './args.js';
import { EXIT, runCommand, type CommandIo } from './command.js';
import { FILTER_OPTIONS, FILTER_USAGE, pageSize, recordFilter, type RecordFilter } from './record-filters.js';
import { formatBytes, formatDuration, renderTable, type Column } from './table.js';
import { lineWidth, styleFor } from './terminal.js';

export const RECORDS_USAGE = `Usage:
  qproxy records [list] [options]    list records, newest first
  qproxy records show ID             print one whole record as JSON (bodies base64 with an encoding hint)
  qproxy records delete ID           delete one record

Options:
${FILTER_USAGE}
  --protocol P       http or tcp
  --json             print a JSON array of the records instead of a table
  --jsonl            print one JSON record per line
  --api URL          the node's API (env QPROXY_API_URL, default http://127.0.0.1:8085)
  --token T          the API token (env QPROXY_API_TOKEN)
  -h, --help         this help

Examples:
  qproxy records --start -1h --protocol http
  qproxy records --all --jsonl > records.jsonl
  qproxy records show 0190a4c2-7b1e-7cc3-9a57-5f8f6f0c1e2d

Exit codes: 0 done, 1 the API failed or cannot be reached, 2 bad usage.`;

const OPTIONS = { ...COMMON_OPTIONS, ...FILTER_OPTIONS, json: { type: 'boolean' }, jsonl: { type: 'boolean' } } as const;

interface Page {
  records: RecordSummary[];
  next: string | null;
}

/** Pages through `GET /api/records` until `filter.max` records or the last page; calls `each` per page. */
export async function listRecords(client: ApiClient, filter: RecordFilter, each: (records: RecordSummary[]) => void): Promise<{ count: number; more: boolean }> {
  let count = 0;
  let cursor: string | undefined;
  for (;;) {
    const page = await client.json<Page>({ path: '/api/records', query: { ...filter.query, limit: pageSize(filter.max, count), cursor } });
    const records = page.records.slice(0, filter.max - count);
    count += records.length;
    each(records);
    if (page.next === null) return { count, more: false };
    if (count >= filter.max) return { count, more: true };
    cursor = page.next;
  }
}

const COLUMNS: Column[] = [
  { header: 'TIME' },
  { header: 'ID' },
  { header: 'PROTO' },
  { header: 'REQUEST', flex: true },
  { header: 'DURATION', align: 'right' },
  { header: 'SIZE', align: 'right' },
];

function describe(r: RecordSummary): string {
  if (r.protocol === 'tcp') {
    const state = r.state === 'open' ? ' (open)' : '';
    return `${r.client ?? '?'} → ${r.downstream ?? '-'}${state}`;
  }
  const status = r.status === null || r.status === undefined ? (r.error ? 'ERR' : '---') : String(r.status);
  return `${r.method ?? '?'} ${status} ${r.url ?? ''}`;
}

function row(r: RecordSummary): string[] {
  return [r.started_at, r.id, r.protocol, describe(r), formatDuration(r.duration_ms), formatBytes(r.size_bytes)];
}

async function list(client: ApiClient, filter: RecordFilter, mode: 'table' | 'json' | 'jsonl', io: CommandIo): Promise<number> {
  const rows: string[][] = [];
  let first = true;
  if (mode === 'json') io.stdout.write('[');
  const { count, more } = await listRecords(client, filter, (records) => {
    for (const r of records) {
      if (mode === 'table') rows.push(row(r));
      else if (mode === 'jsonl') io.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        io.stdout.write(`${first ? '\n' : ',\n'}  ${JSON.stringify(r)}`);
        first = false;
      }
    }
  });
  if (mode === 'json') io.stdout.write(first ? ']\n' : '\n]\n');
  if (mode === 'table') {
    if (count === 0) io.stderr.write('no records match\n');
    else io.stdout.write(`${renderTable(COLUMNS, rows, lineWidth(io.stdout))}\n`);
  }
  if (more) {
    const dim = styleFor(io.stderr, io.env).dim;
    io.stderr.write(`${dim(`showing the newest ${count}; more records match — use --limit N or --all`)}\n`);
  }
  return EXIT.ok;
}

async function show(client: ApiClient, id: string, io: CommandIo): Promise<number> {
  const record = await client.json<unknown>({ path: `/api/records/${encodeURIComponent(id)}` });
  io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  return EXIT.ok;
}

async function remove(client: ApiClient, id: string, io: CommandIo): Promise<number> {
  await client.call({ method: 'DELETE', path: `/api/records/${encodeURIComponent(id)}` });
  io.stdout.write(`deleted record ${id}\n`);
  return EXIT.ok;
}

/** Runs `qproxy records …`. */
export function recordsCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('records', RECORDS_USAGE, io, async () => {
    const { values, positionals: rest } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(`${RECORDS_USAGE}\n`);
      return EXIT.ok;
    }
    if (values.json && values.jsonl) throw new UsageError('give either --json or --jsonl, not both');
    const [sub = 'list', ...params] = rest;
    const client = new ApiClient(apiTarget(values, io.env));
    try {
      if (sub === 'list') {
        positionals(params, []);
        return await list(client, recordFilter(values, io.now()), values.json ? 'json' : values.jsonl ? 'jsonl' : 'table', io);
      }
      if (sub === 'show') return await show(client, positionals(params, ['ID'])[0]!, io);
      if (sub === 'delete') return await remove(client, positionals(params, ['ID'])[0]!, io);
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; use list, show or delete`);
    } finally {
      await client.close();
    }
  });
}
