/**
 * Helpers for end-to-end tests: run the built `qproxy` binary as a child process, wait for its
 * "qproxy started" log line (which names every bound address), and talk HTTP to it.
 */
import { after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface Started {
  child: ChildProcess;
  http: string;
  api: string;
  tcp: string | null;
  sync: string | null;
  stdout: string[];
  stderr: string[];
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-e2e-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function backend(handler?: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<{ url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (handler) return handler(req, Buffer.concat(chunks), res);
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', 'session=abc123; Path=/');
      res.end(JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}` };
}

/**
 * Runs the CLI and waits (bounded) for its "qproxy started" log line, which names the bound ports.
 * The process is killed after the test file unless `killAfter` is false (then the caller stops it:
 * an `after` registered inside a `before` hook would run as soon as that hook ends). `launcher` runs
 * it through another command, e.g. `['prlimit', '--nofile=512:512']`.
 */
export async function startCli(
  configPath: string,
  { killAfter = true, launcher = [] }: { killAfter?: boolean; launcher?: readonly string[] } = {},
): Promise<Started> {
  const [command, ...args] = [...launcher, process.execPath, CLI];
  const child = spawn(command, args, { env: { ...process.env, CONFIG_PATH: configPath, QPROXY_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (killAfter) {
    after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`qproxy did not start within 20 s; stderr: ${stderr.join('')}`)), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`qproxy exited early with ${code}; stderr: ${stderr.join('')} stdout: ${stdout.join('\n')}`));
    });
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        stdout.push(line);
        const entry = JSON.parse(line) as { msg: string; http?: string | null; api?: string; tcp?: string | null; sync?: string | null };
        if (entry.msg === 'qproxy started') {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({ child, http: `http://${entry.http}`, api: `http://${entry.api}`, tcp: entry.tcp ?? null, sync: entry.sync ?? null, stdout, stderr });
        }
      }
    });
  });
}

export function httpRequest(url: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}


/** Polls `fn` until it returns a truthy value (at most `tries` × `delayMs`), then returns its last value. */
export async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, tries = 200, delayMs = 50): Promise<T> {
  let v = await fn();
  for (let i = 0; i < tries && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, delayMs));
    v = await fn();
  }
  return v;
}
