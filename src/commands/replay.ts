/**
 * `qproxy replay`: start an on-demand replay on a Playback node, follow it with a progress line,
 * print the summary and the worst differences, and exit 3 when the success rate is below
 * `--min-success` (for CI pipelines).
 */
import type { ReplayDoc } from '../core/documents.js';
import { ApiClient, ApiRequestError } from './api-client.js';
import { COMMON_OPTIONS, UsageError, apiTarget, intOption, numberOption, parseCommandArgs, positionals, timeOption } from './args.js';
import { EXIT, runCommand, type CommandIo } from './command.js';
import { Progress } from './progress.js';
import { listRecords } from './records.js';
import { handled, progressDetail, renderSummary, renderWorstDiffs } from './replay-report.js';
import { lineWidth, styleFor } from './terminal.js';

export const REPLAY_USAGE = `Usage: qproxy replay [options]

Starts a replay of recorded traffic on a Playback node (POST /api/replays), shows its progress and
live success rate on stderr, then prints the summary and the worst differences.

What to replay:
  --start TIME          from TIME: ISO 8601, "now", or relative (-15m, -2h, -1d); default: the oldest record
  --end TIME            up to TIME (exclusive); default: now
  --ids A,B,…           exactly these record ids (instead of --start/--end)
  --protocol P          http or tcp
  --method M[,M…]       HTTP methods, e.g. GET or GET,HEAD
  --path GLOB           request paths, e.g. "/orders/**" ("*" = one segment, "**" = any depth)
  --node-id NAME        records of this recording node only
  --limit N             at most N records
How:
  --speed X             1 = recorded timing, 2 = twice as fast, 0 = as fast as possible
  --rate N              a fixed N requests per second instead of the recorded timing
  --concurrency N       requests in flight at once
Result:
  --min-success R       exit 3 when the success rate is below R: a fraction (0.95) or a percentage
                        (95 or 95%); values up to 1 are fractions
  --diffs N             show the N worst differences (default 5, 0 = none)
  --json                print the final replay document as JSON on stdout (progress stays on stderr)
  --no-wait             print the replay id and return at once
  --api URL             the node's API (env QPROXY_API_URL, default http://127.0.0.1:8085)
  --token T             the API token (env QPROXY_API_TOKEN)
  -h, --help            this help

Ctrl-C while waiting cancels the replay (DELETE /api/replays/ID).

Exit codes (usable in CI): 0 the replay finished and met --min-success (or none was given),
3 it finished below --min-success (or replayed nothing), 1 the replay failed or was cancelled or the
API failed or cannot be reached, 2 bad usage, 130 interrupted with Ctrl-C.

Examples:
  qproxy replay --start -1h --speed 0 --min-success 99%
  qproxy replay --path "/api/**" --method GET --rate 50 --json > replay.json`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  start: { type: 'string' },
  end: { type: 'string' },
  ids: { type: 'string' },
  protocol: { type: 'string' },
  method: { type: 'string' },
  path: { type: 'string' },
  'node-id': { type: 'string' },
  limit: { type: 'string' },
  speed: { type: 'string' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  'min-success': { type: 'string' },
  diffs: { type: 'string' },
  json: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
} as const;

const POLL_MS = 500;
/** Records counted up front (for the progress bar's total) before giving up on a total. */
const MAX_PRECOUNT = 5_000;

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

/** `--min-success`: "0.95", "95", "95%" → 0.95. Values up to 1 are fractions, above 1 percentages. */
export function parseThreshold(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  const fraction = m?.[2] === '%' || n > 1 ? n / 100 : n;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new UsageError(`--min-success must be a fraction from 0 to 1 (0.95) or a percentage up to 100 (95 or 95%), got ${JSON.stringify(value)}`);
  }
  return fraction;
}

/** The `POST /api/replays` body for the options (field names as src/api/replay-request.ts reads them). */
export function replayBody(v: Values, now: number): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (v.ids !== undefined) {
    if (v.start !== undefined || v.end !== undefined) throw new UsageError('give either --ids or --start/--end, not both');
    const ids = v.ids.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (ids.length === 0) throw new UsageError('--ids needs at least one record id');
    body.ids = ids;
  }
  if (v.start !== undefined) body.start = timeOption('start', v.start, now);
  if (v.end !== undefined) body.end = timeOption('end', v.end, now);
  if (v.protocol !== undefined) {
    if (v.protocol !== 'http' && v.protocol !== 'tcp') throw new UsageError(`--protocol must be http or tcp, got ${JSON.stringify(v.protocol)}`);
    body.protocol = v.protocol;
  }
  if (v.method !== undefined) body.method = v.method.split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (v.path !== undefined) body.path = v.path;
  if (v['node-id'] !== undefined) body.node_id = v['node-id'];
  if (v.limit !== undefined) body.limit = intOption('limit', v.limit, 1, 1_000_000_000);
  if (v.speed !== undefined) body.speed = numberOption('speed', v.speed, 0, 1000);
  if (v.rate !== undefined) body.rate = numberOption('rate', v.rate, 0, 1_000_000);
  if (v.concurrency !== undefined) body.concurrency = intOption('concurrency', v.concurrency, 1, 10_000);
  return body;
}

/** How many records the replay will take, when that is cheap to know; null otherwise. */
async function expectedTotal(client: ApiClient, body: Record<string, unknown>): Promise<number | null> {
  if (Array.isArray(body.ids)) return body.ids.length;
  // The list API filters by time and protocol only; with other filters the count would be wrong.
  if (body.method !== undefined || body.path !== undefined || body.node_id !== undefined) return null;
  const limit = typeof body.limit === 'number' ? body.limit : Infinity;
  const query: Record<string, string> = {};
  for (const k of ['start', 'end', 'protocol'] as const) if (typeof body[k] === 'string') query[k] = body[k];
  const { count, more } = await listRecords(client, { query, max: Math.min(limit, MAX_PRECOUNT) }, () => {});
  return more && limit > MAX_PRECOUNT ? null : count;
}

/** Ctrl-C while a replay is followed: cancels the replay instead of killing the process. */
class Interrupt {
  fired = false;
  private wake = (): void => {};

  constructor(onInterrupt: CommandIo['onInterrupt']) {
    this.dispose = onInterrupt(() => {
      this.fired = true;
      this.wake();
    });
  }

  readonly dispose: () => void;

  /** Resolves after `ms`, or at once when Ctrl-C comes. */
  pause(ms: number): Promise<void> {
    if (this.fired) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

async function follow(client: ApiClient, doc: ReplayDoc, total: number | null, io: CommandIo, interrupt: Interrupt): Promise<ReplayDoc | 'interrupted'> {
  const style = styleFor(io.stderr, io.env);
  const progress = new Progress({ stream: io.stderr, style, now: io.now });
  const started = io.now();
  let current = doc;
  while (current.state === 'running' && !interrupt.fired) {
    progress.update({ done: handled(current), total, detail: progressDetail(current, io.now() - started) });
    await interrupt.pause(POLL_MS);
    if (interrupt.fired) break;
    current = await client.json<ReplayDoc>({ path: `/api/replays/${encodeURIComponent(doc.id)}` });
  }
  progress.finish();
  if (!interrupt.fired) return current;
  io.stderr.write(`interrupted: cancelling replay ${doc.id}\n`);
  await client.call({ method: 'DELETE', path: `/api/replays/${encodeURIComponent(doc.id)}` });
  io.stderr.write(`replay ${doc.id} cancelled\n`);
  return 'interrupted';
}

async function report(client: ApiClient, doc: ReplayDoc, v: Values, threshold: number | null, io: CommandIo): Promise<number> {
  const style = styleFor(io.stdout, io.env);
  if (v.json) {
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    io.stdout.write(`${renderSummary(doc, threshold, style)}\n`);
    const diffs = await renderWorstDiffs(client, doc, v.diffs === undefined ? 5 : intOption('diffs', v.diffs, 0, 1000), lineWidth(io.stdout), style);
    if (diffs !== null) io.stdout.write(`${diffs}\n`);
  }
  if (doc.state !== 'done') {
    io.stderr.write(`qproxy replay: the replay ${doc.state === 'cancelled' ? 'was cancelled' : `failed: ${doc.error ?? 'no reason given'}`}\n`);
    return EXIT.failure;
  }
  const rate = doc.summary.success_rate;
  if (threshold !== null && (rate === null || rate < threshold)) {
    const why = rate === null ? 'nothing was replayed' : `success rate ${(rate * 100).toFixed(1)}% is below`;
    io.stderr.write(`qproxy replay: ${why} --min-success ${(threshold * 100).toFixed(1)}%\n`);
    return EXIT.belowThreshold;
  }
  return EXIT.ok;
}

async function startReplay(client: ApiClient, body: Record<string, unknown>): Promise<ReplayDoc> {
  try {
    return await client.json<ReplayDoc>({ method: 'POST', path: '/api/replays', body });
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) {
      throw new ApiRequestError(404, err.apiCode, `${err.message} — replays run on Playback nodes; is ${client.baseUrl} a Record node?`);
    }
    throw err;
  }
}

/** Runs `qproxy replay …`. */
export function replayCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('replay', REPLAY_USAGE, io, async () => {
    const { values, positionals: rest } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(`${REPLAY_USAGE}\n`);
      return EXIT.ok;
    }
    positionals(rest, []);
    const body = replayBody(values, io.now());
    const threshold = values['min-success'] === undefined ? null : parseThreshold(values['min-success']);
    if (values.diffs !== undefined) intOption('diffs', values.diffs, 0, 1000);
    const client = new ApiClient(apiTarget(values, io.env));
    try {
      const total = values['no-wait'] ? null : await expectedTotal(client, body);
      const created = await startReplay(client, body);
      if (values['no-wait']) {
        io.stdout.write(values.json ? `${JSON.stringify(created, null, 2)}\n` : `${created.id}\n`);
        return EXIT.ok;
      }
      // Watched before "started" is printed: a Ctrl-C right after it must cancel, not kill.
      const interrupt = new Interrupt(io.onInterrupt);
      io.stderr.write(`replay ${created.id} started on ${client.baseUrl}${total === null ? '' : ` (${total} records)`}\n`);
      let doc: ReplayDoc | 'interrupted';
      try {
        doc = await follow(client, created, total, io, interrupt);
      } finally {
        interrupt.dispose();
      }
      if (doc === 'interrupted') return EXIT.interrupted;
      return await report(client, doc, values, threshold, io);
    } finally {
      await client.close();
    }
  });
}
