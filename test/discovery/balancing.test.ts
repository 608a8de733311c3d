/**
 * Load balancing, failover and passive ejection against three real TCP backends on 127.0.0.1.
 * Connect outcomes come from real sockets (a closed backend refuses), not from stubs.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Discovery, parseTcpTarget, type DiscoveryOptions, type Endpoint } from '../../src/discovery/index.js';

interface Backend {
  server: Server;
  port: number;
  key: string;
  accepted: number;
  sockets: Set<Socket>;
}

async function backend(t: TestContext): Promise<Backend> {
  const server = createServer();
  const b: Backend = { server, port: 0, key: '', accepted: 0, sockets: new Set() };
  server.on('connection', (s) => {
    b.accepted++;
    b.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => b.sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  b.port = (server.address() as { port: number }).port;
  b.key = `127.0.0.1:${b.port}`;
  t.after(() => {
    for (const s of b.sockets) s.destroy();
    server.close();
  });
  return b;
}

/** Stops listening and drops open connections, so new connects are refused. */
async function stop(b: Backend): Promise<void> {
  const closed = once(b.server, 'close');
  b.server.close();
  for (const s of b.sockets) s.destroy();
  await closed;
}

async function discovery(t: TestContext, backends: Backend[], extra: Partial<DiscoveryOptions> = {}): Promise<Discovery> {
  const d = new Discovery({
    targets: backends.map((b) => parseTcpTarget(`127.0.0.1:${b.port}`)),
    policy: 'round_robin',
    resolveIntervalMs: 0,
    healthCheck: null,
    passive: { consecutiveFailures: 3, baseEjectionMs: 100, maxEjectionMs: 300 },
    ...extra,
  });
  t.after(() => d.close());
  await d.start();
  return d;
}

/** Opens a real connection to `ep`, reports the outcome, and hands back the socket when it connected. */
async function dial(d: Discovery, ep: Endpoint): Promise<Socket | null> {
  const socket = connect({ host: ep.address, port: ep.port });
  try {
    await once(socket, 'connect');
    d.reportSuccess(ep);
    return socket;
  } catch {
    d.reportFailure(ep);
    socket.destroy();
    return null;
  }
}

function pickOrFail(d: Discovery, exclude?: ReadonlySet<string>): Endpoint {
  const ep = d.pick(exclude);
  assert.ok(ep, 'pick() returned null');
  return ep;
}

function row(d: Discovery, key: string) {
  const r = d.snapshot().find((x) => x.endpoint === key);
  assert.ok(r, `no snapshot row for ${key}`);
  return r;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await delay(5);
  }
  assert.fail(`gave up waiting for ${what}`);
}

/** Fails `times` real connects to a stopped backend; returns the clock just before and after the last one. */
async function failConnects(d: Discovery, ep: Endpoint, times: number): Promise<{ before: number; after: number }> {
  let before = 0;
  for (let i = 0; i < times; i++) {
    before = Date.now();
    assert.equal(await dial(d, ep), null, 'the stopped backend accepted a connection');
  }
  return { before, after: Date.now() };
}

test('round-robin spreads real connections evenly over three backends', async (t) => {
  const backends = [await backend(t), await backend(t), await backend(t)];
  const d = await discovery(t, backends);
  const keys: string[] = [];
  for (let i = 0; i < 30; i++) {
    const ep = pickOrFail(d);
    keys.push(ep.key);
    const s = await dial(d, ep);
    assert.ok(s, `connect to ${ep.key} failed`);
    s.destroy();
  }
  await until(() => backends.every((b) => b.accepted === 10), 'each backend to see 10 connections');
  for (let i = 0; i + 2 < keys.length; i += 3) assert.equal(new Set(keys.slice(i, i + 3)).size, 3, `turn ${i} repeats a backend`);
});

test('least-connections picks the idle backend while the others hold acquired connections', async (t) => {
  const [a, b, c] = [await backend(t), await backend(t), await backend(t)];
  const d = await discovery(t, [a, b, c], { policy: 'least_connections' });
  const held: Array<{ socket: Socket; release: () => void }> = [];
  const keys = [a.key, b.key, c.key];
  const hold = async (key: string): Promise<void> => {
    const ep = pickOrFail(d, new Set(keys.filter((k) => k !== key)));
    assert.equal(ep.key, key);
    const release = d.acquire(ep);
    const socket = await dial(d, ep);
    assert.ok(socket);
    held.push({ socket, release });
  };
  t.after(() => held.forEach((h) => h.socket.destroy()));
  await hold(a.key);
  await hold(a.key);
  await hold(b.key);
  for (let i = 0; i < 5; i++) assert.equal(pickOrFail(d).key, c.key);
  assert.equal(row(d, a.key).active, 2);
  await hold(c.key);
  await hold(c.key);
  for (let i = 0; i < 5; i++) assert.equal(pickOrFail(d).key, b.key, 'b holds 1, a and c hold 2');
  for (const h of held.splice(0, 2)) {
    h.release();
    h.release(); // a second call must not count twice
    h.socket.destroy();
  }
  assert.equal(row(d, a.key).active, 0);
  assert.equal(pickOrFail(d).key, a.key);
});

/** Picks (round-robin) until `key` comes up; bounded by the pool size. */
function pickUntil(d: Discovery, key: string): Endpoint {
  for (let i = 0; i < 10; i++) {
    const ep = pickOrFail(d);
    if (ep.key === key) return ep;
  }
  return assert.fail(`pick() never returned ${key}`);
}

test('failover: pick(exclude) offers each untried endpoint once, then null', async (t) => {
  const backends = [await backend(t), await backend(t), await backend(t)];
  const d = await discovery(t, backends);
  const tried = new Set<string>();
  for (let i = 0; i < 3; i++) tried.add(pickOrFail(d, tried).key);
  assert.deepEqual([...tried].sort(), backends.map((b) => b.key).sort());
  assert.equal(d.pick(tried), null);
});

test('failover around a stopped backend: every request connects, the dead one is tried at most N times', async (t) => {
  const [a, b, c] = [await backend(t), await backend(t), await backend(t)];
  const d = await discovery(t, [a, b, c]);
  await stop(b);
  for (let req = 0; req < 12; req++) {
    const tried = new Set<string>();
    let socket: Socket | null = null;
    for (let ep = d.pick(); ep && !socket; ep = d.pick(tried)) {
      tried.add(ep.key);
      socket = await dial(d, ep);
    }
    assert.ok(socket, `request ${req} found no backend`);
    socket.destroy();
  }
  assert.equal(row(d, b.key).total_failures, 3, 'ejected after 3 failures, then skipped');
  assert.equal(row(d, b.key).state, 'ejected');
});

test('passive ejection: N failures eject, pick() skips, back-off re-admits, doubling up to the cap', async (t) => {
  const [a, b, c] = [await backend(t), await backend(t), await backend(t)];
  const d = await discovery(t, [a, b, c]);
  const epB = pickUntil(d, b.key);
  await stop(b);

  await failConnects(d, epB, 2);
  assert.equal(row(d, b.key).state, 'healthy', 'two failures are below the threshold');
  assert.equal(row(d, b.key).consecutive_failures, 2);

  const expectations = [100, 200, 300]; // base, doubled, capped at maxEjectionMs
  for (const [round, ms] of expectations.entries()) {
    const { before, after } = await failConnects(d, epB, round === 0 ? 1 : 3);
    const r = row(d, b.key);
    assert.equal(r.state, 'ejected', `round ${round}`);
    assert.ok(r.ejected_until);
    const until_ = Date.parse(r.ejected_until);
    assert.ok(until_ >= before + ms && until_ <= after + ms, `round ${round}: ejected for ${until_ - before} ms, expected ${ms}`);
    const picks = Array.from({ length: 12 }, () => pickOrFail(d).key);
    // Only meaningful while the back-off lasts; a long pause of this process could end it early.
    if (Date.now() < until_) assert.ok(!picks.includes(b.key), 'an ejected endpoint was picked');
    await until(() => row(d, b.key).state === 'healthy', `re-admission after ${ms} ms`);
    assert.equal(row(d, b.key).ejected_until, null);
    pickUntil(d, b.key);
  }
  assert.equal(row(d, b.key).total_failures, 9);
  assert.equal(d.panic, false);
});

test('reportSuccess ends a run of failures before it ejects', async (t) => {
  const backends = [await backend(t), await backend(t)];
  const d = await discovery(t, backends);
  const ep = pickOrFail(d);
  d.reportFailure(ep);
  d.reportFailure(ep);
  d.reportSuccess(ep);
  d.reportFailure(ep);
  d.reportFailure(ep);
  const r = row(d, ep.key);
  assert.equal(r.state, 'healthy');
  assert.equal(r.consecutive_failures, 2);
  assert.equal(r.total_failures, 4);
});

test('panic mode: with every backend ejected, pick() tries all of them and the snapshot says so', async (t) => {
  const backends = [await backend(t), await backend(t), await backend(t)];
  let clock = 1_000_000;
  const d = await discovery(t, backends, {
    passive: { consecutiveFailures: 1, baseEjectionMs: 10_000, maxEjectionMs: 60_000 },
    now: () => clock,
  });
  const eps = backends.map((b) => pickUntil(d, b.key));
  for (const b of backends) await stop(b);
  for (const ep of eps) assert.equal(await dial(d, ep), null);

  assert.equal(d.panic, true);
  const snap = d.snapshot();
  assert.equal(snap.panic, true);
  assert.deepEqual(snap.map((r) => r.state), ['ejected', 'ejected', 'ejected']);
  assert.equal(snap[0]?.ejected_until, new Date(1_000_000 + 10_000).toISOString());
  const picked = new Set(Array.from({ length: 6 }, () => pickOrFail(d).key));
  assert.equal(picked.size, 3, 'panic mode tries every endpoint');
  const keys = backends.map((b) => b.key);
  assert.equal(d.pick(new Set(keys)), null);
  assert.equal(pickOrFail(d, new Set(keys.slice(0, 2))).key, keys[2]);

  clock += 10_000;
  assert.equal(d.panic, false, 'back-off over: endpoints are available again');
  assert.equal(d.snapshot().panic, false);
  assert.ok(d.snapshot().every((r) => r.state === 'healthy'));
});
