/**
 * Lifecycle: close() stops re-resolution and checks and aborts a check in flight; nothing keeps
 * the process alive (a child process that never calls close() still exits); bad options and
 * foreign endpoints fail with coded errors.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { QProxyError } from '../../src/core/errors.js';
import { Discovery, parseHttpTarget, parseTcpTarget, type DiscoveryOptions } from '../../src/discovery/index.js';
import { timerRounds } from '../helpers/timers.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await delay(5);
  }
  assert.fail(`gave up waiting for ${what}`);
}

function base(targets: DiscoveryOptions['targets']): DiscoveryOptions {
  return {
    targets,
    policy: 'round_robin',
    resolveIntervalMs: 0,
    healthCheck: null,
    passive: { consecutiveFailures: 3, baseEjectionMs: 100, maxEjectionMs: 1000 },
  };
}

async function countingServer(t: TestContext): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
    s.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, connections: () => n };
}

test('close() stops health checks and re-resolution, and is idempotent', async (t) => {
  const server = await countingServer(t);
  let lookups = 0;
  const d = new Discovery({
    ...base([parseTcpTarget(`svc.test:${server.port}`)]),
    resolveIntervalMs: 10,
    healthCheck: { kind: 'tcp', path: '/', intervalMs: 10, timeoutMs: 1000, rise: 1, fall: 1 },
    lookup: () => {
      lookups++;
      return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    },
  });
  await d.start();
  await until(() => server.connections() >= 3 && lookups >= 3, 'checks and lookups to repeat');
  const first = d.close();
  const second = d.close();
  assert.equal(first, second, 'close() twice returns the same promise');
  await first;
  const [checks, resolutions] = [server.connections(), lookups];
  await timerRounds(10, 10); // ten intervals of both timers
  assert.equal(server.connections(), checks, 'a health check ran after close()');
  assert.equal(lookups, resolutions, 'a lookup ran after close()');
  assert.ok(d.pick(), 'pick() still answers from the last known state');
});

test('close() aborts a health check in flight instead of waiting for its timeout', { timeout: 20_000 }, async (t) => {
  let open = 0;
  let requests = 0;
  const server = createHttpServer(() => {
    requests++; // never answers
  });
  server.on('connection', (s: Socket) => {
    open++;
    s.on('close', () => open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const d = new Discovery({
    ...base([parseHttpTarget(`http://127.0.0.1:${port}`)]),
    healthCheck: { kind: 'http', path: '/', intervalMs: 1000, timeoutMs: 600_000, rise: 1, fall: 1 },
  });
  const started = d.start();
  await until(() => requests === 1, 'the check to reach the server');
  await d.close();
  await started;
  await until(() => open === 0, 'the aborted check to close its connection');
});

test('nothing keeps the process alive: a child that never calls close() exits by itself', { timeout: 30_000 }, async (t) => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));

  const dir = await mkdtemp(join(tmpdir(), 'qproxy-discovery-exit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'child.mts');
  const entry = pathToFileURL(join(import.meta.dirname, '../../src/discovery/index.ts')).href;
  await writeFile(
    script,
    `import { Discovery, parseTcpTarget } from ${JSON.stringify(entry)};
const d = new Discovery({
  targets: [parseTcpTarget('127.0.0.1:${deadPort}'), parseTcpTarget('svc.test:${deadPort}')],
  policy: 'round_robin',
  resolveIntervalMs: 10,
  healthCheck: { kind: 'tcp', path: '/', intervalMs: 10, timeoutMs: 1000, rise: 1, fall: 1 },
  passive: { consecutiveFailures: 1, baseEjectionMs: 60000, maxEjectionMs: 60000 },
  lookup: async () => [{ address: '127.0.0.1', family: 4 }],
});
await d.start();
const ep = d.pick();
if (ep) d.reportFailure(ep);
console.log('started', d.snapshot().length, d.panic);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  t.after(() => {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.equal(signal, null, `the child had to be killed: something kept it alive. stderr: ${err}`);
  assert.equal(code, 0, `child failed: ${err}`);
  assert.equal(out.trim(), 'started 2 true');
});

test('constructor refuses options that cannot work, with QP_ERR_CONFIG naming the field', () => {
  const target = parseTcpTarget('127.0.0.1:7000');
  const hc = { kind: 'tcp' as const, path: '/', intervalMs: 100, timeoutMs: 100, rise: 1, fall: 1 };
  const cases: Array<[Partial<DiscoveryOptions>, RegExp]> = [
    [{ targets: [] }, /targets/],
    [{ policy: 'random' as DiscoveryOptions['policy'] }, /policy.*round_robin/],
    [{ resolveIntervalMs: -1 }, /resolveIntervalMs/],
    [{ passive: { consecutiveFailures: 1, baseEjectionMs: 500, maxEjectionMs: 100 } }, /maxEjectionMs/],
    [{ healthCheck: { ...hc, rise: 0 } }, /healthCheck\.rise/],
    [{ healthCheck: { ...hc, intervalMs: 0 } }, /healthCheck\.intervalMs/],
    [{ healthCheck: { ...hc, kind: 'http', path: 'healthz' } }, /healthCheck\.path/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(
      () => new Discovery({ ...base([target]), ...patch }),
      (err: unknown) => err instanceof QProxyError && err.code === 'QP_ERR_CONFIG' && message.test(err.message),
      `expected QP_ERR_CONFIG matching ${String(message)} for ${JSON.stringify(patch)}`,
    );
  }
});

test('acquire/report refuse an endpoint that pick() did not return', async (t) => {
  const d = new Discovery(base([parseTcpTarget('127.0.0.1:7000')]));
  t.after(() => d.close());
  await d.start();
  const fake = { key: '127.0.0.1:7000', address: '127.0.0.1', port: 7000, active: 0, target: parseTcpTarget('127.0.0.1:7000') };
  assert.throws(() => d.acquire(fake), (err: unknown) => err instanceof QProxyError && err.code === 'QP_ERR_DISCOVERY');
  assert.throws(() => d.reportFailure(fake), (err: unknown) => err instanceof QProxyError && err.code === 'QP_ERR_DISCOVERY');
  assert.equal(d.pick()?.key, '127.0.0.1:7000');
});

test('pick() before start() has nothing to offer', () => {
  const d = new Discovery(base([parseTcpTarget('127.0.0.1:7000')]));
  assert.equal(d.pick(), null);
  assert.equal(d.panic, false);
  assert.deepEqual([...d.snapshot()], []);
});
