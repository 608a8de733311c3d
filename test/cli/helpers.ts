/**
 * A small two-zone setup for the command tests: a Record node in front of backend A syncing to a
 * Playback node whose downstream, backend B, answers /price differently. Both are the built binary
 * as child processes; the commands under test run as further child processes.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, backend, httpRequest, poll, startCli, tempDir, type Started } from '../e2e/helpers.js';

export const TOKEN = 'cli-test-token';

export interface Zones {
  dir: string;
  a: Started;
  b: Started;
  /** The env that points the commands at a node's API with the right token. */
  envA: Record<string, string>;
  envB: Record<string, string>;
}

function answer(priceFor: (url: string) => number) {
  return backend((req, body, res) => {
    res.setHeader('content-type', 'application/json');
    const url = req.url ?? '';
    res.end(JSON.stringify({ method: req.method, url, body: body.toString(), ...(url.startsWith('/price') ? { price: priceFor(url) } : {}) }));
  });
}

async function status(api: string): Promise<{ records: { count: number } }> {
  return JSON.parse((await httpRequest(`${api}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).body) as { records: { count: number } };
}

/** Starts a Playback node (no sync sender; live replay off so only the commands replay). */
export async function startPlayback(dir: string, name: string, downstream: string, extra: Record<string, unknown> = {}): Promise<Started> {
  const path = join(dir, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      mode: 'Playback',
      node_id: name,
      http: { host: '127.0.0.1', port: 0, downstream },
      api: { host: '127.0.0.1', port: 0, token: TOKEN },
      storage: { path: join(dir, `${name}.db`) },
      // A sync listener on an ephemeral loopback port: the default (0.0.0.0:8084) may be taken.
      sync: { host: '127.0.0.1', port: 0, token: 'cli-sync-token' },
      playback: { live: { enabled: false } },
      log: { level: 'warn' },
      ...extra,
    }),
  );
  return startCli(path);
}

/** Starts both zones and sends `paths` (GET, or "POST /x") through zone A; waits until zone B has them all. */
export async function startZones(paths: readonly string[]): Promise<Zones> {
  const dir = await tempDir();
  const zoneA = await answer(() => 10);
  const zoneB = await answer(() => 12);
  const syncToken = 'cli-sync-token';
  const b = await startPlayback(dir, 'zone-b', zoneB.url);
  assert.ok(b.sync, 'the Playback node reports its sync address');
  const recordConfig = join(dir, 'zone-a.json');
  await writeFile(
    recordConfig,
    JSON.stringify({
      mode: 'Record',
      node_id: 'zone-a',
      http: { host: '127.0.0.1', port: 0, downstream: zoneA.url },
      peer: { host: '127.0.0.1', port: Number(b.sync.split(':').pop()), tls: false, token: syncToken, poll_interval: '20ms' },
      api: { host: '127.0.0.1', port: 0, token: TOKEN },
      storage: { path: join(dir, 'zone-a.db') },
      log: { level: 'warn' },
    }),
  );
  const a = await startCli(recordConfig);
  for (const p of paths) {
    const [method, path] = p.includes(' ') ? (p.split(' ') as [string, string]) : ['GET', p];
    const res = await httpRequest(`${a.http}${path}`, { method, ...(method === 'POST' ? { body: '{"qty":1}', headers: { 'content-type': 'application/json' } } : {}) });
    assert.equal(res.status, 200);
  }
  const synced = await poll(() => status(b.api), (s) => s.records.count >= paths.length, 400, 50);
  assert.equal(synced.records.count, paths.length, 'every record reached zone B');
  return { dir, a, b, envA: { QPROXY_API_URL: a.api, QPROXY_API_TOKEN: TOKEN }, envB: { QPROXY_API_URL: b.api, QPROXY_API_TOKEN: TOKEN } };
}

/** A command of the built binary as a child process, with its output collected as it comes. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}, stdin?: string): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    // NO_COLOR and no TTY: the assertions read plain text.
    env: { ...process.env, QPROXY_API_URL: '', QPROXY_API_TOKEN: '', ...env },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  if (stdin !== undefined) child.stdin!.end(stdin);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Runs a command to its end. */
export async function cli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = spawnCli(args, env, stdin);
  const { code } = await r.exit;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}
