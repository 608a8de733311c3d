/**
 * @module HAR 1.2 → records: `parseHarText` (bytes → JSON), `importHar` (JSON → validated
 * HttpRecords, one per entry, in entry order). Any problem is a HarError (QP_ERR_HAR_INVALID) whose
 * message names the JSON path, e.g. `log.entries[3].request.url: expected an absolute http(s) URL`;
 * nothing is imported from a document with a problem.
 */
import type { z } from 'zod';
import type { HttpRecord } from '../recording/model.js';
import { entryToRecord } from './entry-import.js';
import { HarError, harPath } from './har-error.js';
import { harSchema } from './har-schema.js';

export { DEFAULT_IMPORT_NODE_ID, NO_RESPONSE_CODE } from './entry-import.js';

export interface HarImportOptions {
  /** node_id of every record; default the entry's `_qproxy.node_id`, else "har-import". */
  nodeId?: string;
}

/** Problems listed in one error message; the rest are counted. */
const MAX_LISTED = 3;

/** Parses a HAR file's bytes or text; not JSON → HarError. */
export function parseHarText(text: string | Buffer): unknown {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  try {
    return JSON.parse(s.charCodeAt(0) === 0xfeff ? s.slice(1) : s) as unknown;
  } catch (err) {
    throw new HarError(`the HAR file is not JSON (${(err as Error).message}); export it again from the tool`, { cause: err });
  }
}

/** Converts a parsed HAR document into records; throws HarError for the first entry it cannot use. */
export function importHar(doc: unknown, opts: HarImportOptions = {}): HttpRecord[] {
  const parsed = harSchema.safeParse(doc);
  if (!parsed.success) throw new HarError(describeIssues(parsed.error.issues, doc));
  const rawEntries = (doc as { log: { entries: unknown[] } }).log.entries;
  return parsed.data.log.entries.map((entry, index) => entryToRecord(entry, { index, raw: rawEntries[index], nodeId: opts.nodeId }));
}

function describeIssues(issues: readonly z.core.$ZodIssue[], doc: unknown): string {
  const lines = issues.slice(0, MAX_LISTED).map((issue) => `${harPath(issue.path)}: ${describeIssue(issue, valueAt(doc, issue.path))}`);
  const more = issues.length - MAX_LISTED;
  return more > 0 ? `${lines.join('; ')} (and ${more} more problem${more === 1 ? '' : 's'})` : lines.join('; ');
}

const A: Readonly<Record<string, string>> = { object: 'an object', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code !== 'invalid_type') return issue.message;
  const expected = A[issue.expected] ?? issue.expected;
  if (value === undefined) return issue.path.length === 0 ? `expected ${expected}` : `missing (expected ${expected})`;
  return `expected ${expected}, got ${describeValue(value)}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let node = doc;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
