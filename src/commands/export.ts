/**
 * `qproxy export --har FILE`: HTTP records as one HAR 1.2 file, fetched page by page from
 * `GET /api/records?format=har` and written atomically.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QProxyError, errorMessage } from '../core/errors.js';
import { ApiClient } from './api-client.js';
import { COMMON_OPTIONS, UsageError, apiTarget, parseCommandArgs, positionals } from './args.js';
import { EXIT, runCommand, type CommandIo } from './command.js';
import { FILTER_OPTIONS, FILTER_USAGE, pageSize, recordFilter, type RecordFilter } from './record-filters.js';

export const EXPORT_USAGE = `Usage: qproxy export --har FILE [options]

Writes the node's HTTP records as a HAR 1.2 file (entries oldest first), for browser DevTools,
mitmproxy, Charles or another QProxy node (qproxy import). TCP records cannot be HAR and are left out.

Options:
  --har FILE         where to write ("-" = stdout); the file is replaced atomically
${FILTER_USAGE}
  --api URL          the node's API (env QPROXY_API_URL, default http://127.0.0.1:8085)
  --token T          the API token (env QPROXY_API_TOKEN)
  -h, --help         this help

Examples:
  qproxy export --har last-hour.har --start -1h --all
  qproxy export --har - --limit 10 | jq '.log.entries[].request.url'

Exit codes: 0 written, 1 the API failed or cannot be reached or FILE cannot be written, 2 bad usage.`;

const OPTIONS = { ...COMMON_OPTIONS, ...FILTER_OPTIONS, har: { type: 'string' } } as const;

interface HarEntry {
  startedDateTime?: string;
  [key: string]: unknown;
}

interface HarPage {
  log: { entries: HarEntry[]; _next?: string | null; [key: string]: unknown };
}

/** A file that cannot be written: exit 1 with the path and the system's reason. */
export class FileError extends QProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QP_ERR_CLI_FILE', message, options);
  }
}

function time(e: HarEntry): number {
  const t = typeof e.startedDateTime === 'string' ? Date.parse(e.startedDateTime) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** All pages of the HAR export merged into one log (entries sorted by startedDateTime, no `_next`). */
export async function fetchHar(client: ApiClient, filter: RecordFilter): Promise<{ log: Record<string, unknown> }> {
  const entries: HarEntry[] = [];
  let head: Record<string, unknown> | null = null;
  let cursor: string | undefined;
  for (;;) {
    const page = await client.json<HarPage>({ path: '/api/records', query: { ...filter.query, format: 'har', limit: pageSize(filter.max, entries.length), cursor } });
    if (typeof page?.log !== 'object' || !Array.isArray(page.log.entries)) {
      throw new QProxyError('QP_ERR_CLI_API', `GET /api/records?format=har did not answer a HAR document; does the node at ${client.baseUrl} support HAR export?`);
    }
    const { entries: pageEntries, _next: next, ...rest } = page.log;
    head ??= rest;
    entries.push(...pageEntries.slice(0, filter.max - entries.length));
    if (next === null || next === undefined || entries.length >= filter.max) break;
    cursor = next;
  }
  // Array.prototype.sort is stable: entries with the same start keep the API's order.
  entries.sort((a, b) => time(a) - time(b));
  return { log: { ...(head ?? { version: '1.2', creator: { name: 'QProxy', version: 'unknown' } }), entries } };
}

/** Writes `text` to `path` through a temporary file in the same folder and a rename. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { flag: 'wx' });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new FileError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Runs `qproxy export …`. */
export function exportCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('export', EXPORT_USAGE, io, async () => {
    const { values, positionals: rest } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(`${EXPORT_USAGE}\n`);
      return EXIT.ok;
    }
    positionals(rest, []);
    if (values.har === undefined || values.har === '') throw new UsageError('--har FILE is required (use "-" for stdout)');
    if (values.protocol !== undefined) throw new UsageError('--protocol does not apply: HAR holds HTTP records only');
    const filter = recordFilter(values, io.now());
    const client = new ApiClient(apiTarget(values, io.env));
    try {
      const har = await fetchHar(client, filter);
      const text = `${JSON.stringify(har, null, 2)}\n`;
      const count = (har.log.entries as unknown[]).length;
      if (values.har === '-') {
        io.stdout.write(text);
        io.stderr.write(`exported ${count} entries to stdout\n`);
      } else {
        await writeAtomically(values.har, text);
        io.stdout.write(`exported ${count} entries to ${values.har}\n`);
      }
      return EXIT.ok;
    } finally {
      await client.close();
    }
  });
}
