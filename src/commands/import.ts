/**
 * `qproxy import --har FILE`: a HAR file (from DevTools, mitmproxy, Charles or `qproxy export`)
 * into a Playback node's store, through `POST /api/records?format=har`.
 */
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import { ApiClient } from './api-client.js';
import { COMMON_OPTIONS, UsageError, apiTarget, parseCommandArgs, positionals } from './args.js';
import { EXIT, runCommand, type CommandIo } from './command.js';
import { FileError } from './export.js';

export const IMPORT_USAGE = `Usage: qproxy import --har FILE [options]

Stores the entries of a HAR 1.2 file as records on a Playback node, where they can be replayed or
served. Importing the same file again stores nothing new (record ids come from the entries).
Imported records are not sent to zone B's services unless you ask: the live replay passes over
them, and --replay starts an on-demand replay of exactly these records.

Options:
  --har FILE         the HAR file ("-" = stdin)
  --replay           also replay the imported records against the node's downstream (an on-demand
                     replay; its id is printed: follow it with GET /api/replays/ID)
  --node-id NAME     node_id of the imported records (default chosen by the node: "har-import")
  --api URL          the Playback node's API (env QPROXY_API_URL, default http://127.0.0.1:8085)
  --token T          the API token (env QPROXY_API_TOKEN)
  -h, --help         this help

Examples:
  qproxy import --har session.har --node-id laptop-chrome
  qproxy import --har session.har --replay
  qproxy export --har - --api http://zone-a:8085 | qproxy import --har - --api http://zone-b:8085

Exit codes: 0 imported, 1 the file is unreadable or invalid, or the API failed or cannot be reached,
2 bad usage.`;

const OPTIONS = { ...COMMON_OPTIONS, har: { type: 'string' }, 'node-id': { type: 'string' }, replay: { type: 'boolean' } } as const;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

async function readHar(path: string, io: CommandIo): Promise<string> {
  let text: string;
  try {
    text = path === '-' ? await readAll(io.stdin) : await readFile(path, 'utf8');
  } catch (err) {
    throw new FileError(`cannot read ${path === '-' ? 'stdin' : path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    JSON.parse(text);
  } catch (err) {
    throw new FileError(`${path === '-' ? 'stdin' : path} is not a HAR file: not JSON (${errorMessage(err)})`);
  }
  return text;
}

/** Runs `qproxy import …`. */
export function importCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('import', IMPORT_USAGE, io, async () => {
    const { values, positionals: rest } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(`${IMPORT_USAGE}\n`);
      return EXIT.ok;
    }
    positionals(rest, []);
    if (values.har === undefined || values.har === '') throw new UsageError('--har FILE is required (use "-" for stdin)');
    if (values['node-id'] === '') throw new UsageError('--node-id must not be empty');
    const target = apiTarget(values, io.env);
    const text = await readHar(values.har, io);
    const client = new ApiClient(target);
    try {
      const res = await client.json<{ imported: number; skipped: number; replay?: { id: string } | null }>({
        method: 'POST',
        path: '/api/records',
        query: { format: 'har', node_id: values['node-id'], ...(values.replay === true && { replay: 'true' }) },
        body: text,
      });
      io.stdout.write(`imported ${res.imported} records (${res.skipped} already present)\n`);
      if (res.replay) io.stdout.write(`replay ${res.replay.id} started: follow it with GET /api/replays/${res.replay.id}\n`);
      return EXIT.ok;
    } finally {
      await client.close();
    }
  });
}
