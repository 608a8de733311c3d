/**
 * DNS: every address becomes an endpoint, re-resolution adds and retires endpoints, lookup errors
 * keep what was known, IP literals skip DNS, and "localhost" goes through the real resolver.
 * Backends listen on 127.0.0.1 and 127.0.0.2 (both loopback) on the same port.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { QProxyError } from '../../src/core/errors.js';
import {
  Discovery,
  parseHttpTarget,
  parseTcpTarget,
  type DiscoveryOptions,
  type Endpoint,
  type Lookup,
} from '../../src/discovery/index.js';
import { timerRounds } from '../helpers/timers.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await delay(5);
  }
  assert.fail(`gave up waiting for ${what}`);
}

async function listen(t: TestContext, host: string, port: number): Promise<{ server: Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    s.on('error', () => undefined).end();
  });
  server.listen(port, host);
  await once(server, 'listening');
  t.after(() => server.close());
  return { server, port: (server.address() as { port: number }).port, accepted: () => accepted };
}

/** A lookup whose answers the test changes; counts calls per host. */
function fakeDns(initial: Record<string, string[] | Error>): { lookup: Lookup; answers: Record<string, string[] | Error>; calls: Map<string, number> } {
  const answers = { ...initial };
  const calls = new Map<string, number>();
  const lookup: Lookup = (host) => {
    calls.set(host, (calls.get(host) ?? 0) + 1);
    const a = answers[host];
    if (a === undefined || a instanceof Error) return Promise.reject(a ?? Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(a.map((address) => ({ address, family: 4 })));
  };
  return { lookup, answers, calls };
}

function discovery(t: TestContext, opts: Partial<DiscoveryOptions> & Pick<DiscoveryOptions, 'targets'>): Discovery {
  const d = new Discovery({
    policy: 'round_robin',
    resolveIntervalMs: 20,
    healthCheck: null,
    passive: { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 1000 },
    ...opts,
  });
  t.after(() => d.close());
  return d;
}

const endpoints = (d: Discovery): string[] => d.snapshot().map((r) => r.endpoint);

async function connects(ep: Endpoint): Promise<boolean> {
  const s = connect({ host: ep.address, port: ep.port });
  try {
    await once(s, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    s.destroy();
  }
}

test('re-resolution: a second address becomes an endpoint, a removed one retires once idle', async (t) => {
  const first = await listen(t, '127.0.0.1', 0);
  const second = await listen(t, '127.0.0.2', first.port);
  const [k1, k2] = [`127.0.0.1:${first.port}`, `127.0.0.2:${first.port}`];
  const dns = fakeDns({ 'svc.test': ['127.0.0.1'] });
  const d = discovery(t, { targets: [parseTcpTarget(`svc.test:${first.port}`)], lookup: dns.lookup });
  await d.start();
  assert.deepEqual(endpoints(d), [k1]);

  dns.answers['svc.test'] = ['127.0.0.1', '127.0.0.2'];
  await until(() => endpoints(d).length === 2, 'the second address to appear');
  assert.deepEqual(endpoints(d), [k1, k2]);
  const picked = [d.pick(), d.pick()];
  assert.deepEqual(picked.map((e) => e?.key).sort(), [k1, k2]);
  for (const ep of picked) assert.ok(ep && (await connects(ep)), `connect to ${ep?.key}`);
  await until(() => first.accepted() === 1 && second.accepted() === 1, 'one connection on each address');

  const busy = picked.find((e) => e?.key === k2);
  assert.ok(busy);
  const release = d.acquire(busy);
  dns.answers['svc.test'] = ['127.0.0.1'];
  await until(() => d.snapshot().some((r) => r.endpoint === k2 && r.retiring), 'the vanished address to retire');
  for (let i = 0; i < 6; i++) assert.equal(d.pick()?.key, k1, 'a retiring endpoint was picked');
  assert.deepEqual(endpoints(d), [k1, k2], 'kept while a connection is in flight');
  release();
  assert.deepEqual(endpoints(d), [k1], 'removed once idle');

  dns.answers['svc.test'] = ['127.0.0.1', '127.0.0.2'];
  await until(() => endpoints(d).length === 2, 'the address to come back');
  dns.answers['svc.test'] = ['127.0.0.1'];
  await until(() => endpoints(d).length === 1, 'an idle vanished address to go at once');
});

test('a failing re-resolution keeps the known endpoints', async (t) => {
  const dns = fakeDns({ 'svc.test': ['127.0.0.1'] });
  const d = discovery(t, { targets: [parseHttpTarget('http://svc.test:8081')], lookup: dns.lookup });
  await d.start();
  dns.answers['svc.test'] = new Error('getaddrinfo EAI_AGAIN svc.test');
  const calls = dns.calls.get('svc.test') ?? 0;
  await until(() => (dns.calls.get('svc.test') ?? 0) >= calls + 3, 'three failed lookups');
  assert.deepEqual(endpoints(d), ['127.0.0.1:8081']);
  dns.answers['svc.test'] = [];
  await until(() => (dns.calls.get('svc.test') ?? 0) >= calls + 6, 'three empty answers');
  assert.deepEqual(endpoints(d), ['127.0.0.1:8081'], 'an empty answer is a failure too');
});

test('IP literals never go through DNS', async (t) => {
  const dns = fakeDns({ 'svc.test': ['127.0.0.1'] });
  const d = discovery(t, {
    targets: [parseTcpTarget('127.0.0.1:7001'), parseTcpTarget('[::1]:7002'), parseTcpTarget('svc.test:7003')],
    lookup: dns.lookup,
  });
  await d.start();
  await until(() => (dns.calls.get('svc.test') ?? 0) >= 3, 'a few re-resolution rounds');
  assert.deepEqual([...dns.calls.keys()], ['svc.test']);
  assert.deepEqual(endpoints(d), ['127.0.0.1:7001', '[::1]:7002', '127.0.0.1:7003']);
});

test('resolveIntervalMs 0 resolves once', async (t) => {
  const dns = fakeDns({ 'svc.test': ['127.0.0.1'] });
  const d = discovery(t, { targets: [parseTcpTarget('svc.test:7003')], lookup: dns.lookup, resolveIntervalMs: 0 });
  await d.start();
  await timerRounds(10, 10); // ten turns of a 10 ms re-resolution timer, were there one
  assert.equal(dns.calls.get('svc.test'), 1);
});

test('start() fails with QP_ERR_DISCOVERY naming every host when none resolves', async (t) => {
  const dns = fakeDns({});
  const d = discovery(t, { targets: [parseTcpTarget('a.test:1'), parseHttpTarget('http://b.test')], lookup: dns.lookup });
  await assert.rejects(d.start(), (err: unknown) => {
    assert.ok(err instanceof QProxyError);
    assert.equal(err.code, 'QP_ERR_DISCOVERY');
    assert.match(err.message, /a\.test \(getaddrinfo ENOTFOUND a\.test\)/);
    assert.match(err.message, /b\.test/);
    return true;
  });
});

test('start() succeeds when one host resolves, logs the other and keeps retrying it', async (t) => {
  const dns = fakeDns({ 'good.test': ['127.0.0.1'] });
  const warnings: Array<Record<string, unknown>> = [];
  const d = discovery(t, {
    targets: [parseTcpTarget('good.test:7001'), parseTcpTarget('late.test:7002')],
    lookup: dns.lookup,
    logger: { info: () => undefined, warn: (o) => warnings.push(o as Record<string, unknown>) },
  });
  await d.start();
  assert.deepEqual(endpoints(d), ['127.0.0.1:7001']);
  assert.ok(warnings.some((w) => w.target === 'late.test:7002'), 'the unresolved host is logged');
  await until(() => (dns.calls.get('late.test') ?? 0) >= 2, 'a retry of the unresolved host');
  dns.answers['late.test'] = ['127.0.0.2'];
  await until(() => endpoints(d).includes('127.0.0.2:7002'), 'the late host to appear');
});

test('"localhost" resolves through the real resolver', async (t) => {
  const server = await listen(t, '127.0.0.1', 0);
  const d = discovery(t, { targets: [parseHttpTarget(`http://localhost:${server.port}`)], resolveIntervalMs: 0 });
  await d.start();
  const key = `127.0.0.1:${server.port}`;
  assert.ok(endpoints(d).includes(key), `localhost gave ${endpoints(d).join(', ')}`);
  const others = new Set(endpoints(d).filter((k) => k !== key));
  const ep = d.pick(others);
  assert.equal(ep?.key, key);
  assert.equal(ep.target.host, 'localhost');
  assert.ok(await connects(ep));
  await until(() => server.accepted() === 1, 'the connection to arrive');
});
