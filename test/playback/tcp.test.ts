import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Metrics } from '../../src/metrics/metrics.js';
import { nullObserver } from '../../src/playback/observer.js';
import { TcpStubServer } from '../../src/playback/tcp/tcp-stub-server.js';
import type { Store } from '../../src/store/index.js';
import { defer, finished, openEngine, openStore, params, silentLog, waitFor, type Doc } from './helpers.js';
import { RespClient, resp, startRedis, startTcpProxy } from './tcp-helpers.js';

/** The redis conversation recorded through the proxy, with the replies a fresh server gives. */
const SESSION: Array<[string[], string]> = [
  [['SET', 'k1', 'v1'], '+OK\r\n'],
  [['SET', 'k2', 'hello world'], '+OK\r\n'],
  [['INCR', 'counter'], ':1\r\n'],
  [['INCR', 'counter'], ':2\r\n'],
  [['INCR', 'counter'], ':3\r\n'],
  [['RPUSH', 'list', 'a', 'b', 'c'], ':3\r\n'],
  [['GET', 'k1'], '$2\r\nv1\r\n'],
];

async function storedSessions(store: Store, n: number): Promise<void> {
  await waitFor(() => store.list({ limit: 10, protocol: 'tcp' }).records.filter((r) => r.state === 'closed').length === n, `${n} closed TCP session(s) in the store`);
}

/** Records the SESSION against a fresh redis through the real proxy. */
async function recordRedisSession(t: TestContext, store: Store, dir: string): Promise<void> {
  const source = await startRedis(t, dir);
  const proxy = await startTcpProxy(t, source.target, store);
  const client = await RespClient.open(proxy.port);
  for (const [cmd, reply] of SESSION) assert.equal(await client.call(...cmd), reply);
  assert.equal(await client.call('QUIT'), '+OK\r\n');
  await client.close();
  await storedSessions(store, 1);
}

test('a redis session recorded through the proxy, replayed into an empty redis, leaves the same keys and values', async (t) => {
  const { store, path, dir } = await openStore(t);
  await recordRedisSession(t, store, dir);
  const target = await startRedis(t, dir);
  const engine = await openEngine(t, store, path, [], {
    http: null,
    tcp: { targets: [{ host: '127.0.0.1', port: target.port }], replyTimeoutMs: 2_000, compare: 'exact' },
  });
  const doc = await finished(engine, (engine.manager.createResolved(params({ filter: { protocol: 'tcp' } })) as Doc).id);
  assert.deepEqual(doc.summary.counts, { match: 1, mismatch: 0, failed: 0, skipped: 0, dry_run: 0, missing: 0 });

  const check = await RespClient.open(target.port);
  t.after(() => check.close());
  assert.equal(await check.call('GET', 'k1'), '$2\r\nv1\r\n');
  assert.equal(await check.call('GET', 'k2'), '$11\r\nhello world\r\n');
  assert.equal(await check.call('GET', 'counter'), '$1\r\n3\r\n');
  assert.equal(await check.call('LRANGE', 'list', '0', '-1'), '*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n');
  assert.equal(await check.call('DBSIZE'), ':4\r\n');
});

test('a redis that answers differently is a mismatch with a readable diff of the server bytes', async (t) => {
  const { store, path, dir } = await openStore(t);
  await recordRedisSession(t, store, dir);
  const target = await startRedis(t, dir);
  const seed = await RespClient.open(target.port);
  assert.equal(await seed.call('SET', 'counter', '10'), '+OK\r\n');
  await seed.close();
  const engine = await openEngine(t, store, path, [], {
    http: null,
    tcp: { targets: [{ host: '127.0.0.1', port: target.port }], replyTimeoutMs: 2_000, compare: 'exact' },
  });
  const doc = await finished(engine, (engine.manager.createResolved(params()) as Doc).id);
  assert.equal(doc.summary.counts.mismatch, 1);
  const [result] = engine.manager.results(doc.id, { limit: 5 })!.results;
  assert.deepEqual(result!.kinds, ['stream']);
  assert.match(result!.diff!, /^server bytes: 39 B → 42 B, first difference at character 12: "\+OK.*:1\\r\\n:2.*" → "\+OK.*:11\\r\\n:12/);
});

async function startStub(
  t: TestContext,
  store: Store,
  over: Partial<ConstructorParameters<typeof TcpStubServer>[0]> = {},
): Promise<{ stub: TcpStubServer; port: number }> {
  const stub = new TcpStubServer({ host: '127.0.0.1', port: 0, store, idleMs: 5_000, maxConnections: 0, observer: nullObserver, logger: silentLog, pollMs: 20, ...over });
  defer(t, () => stub.close(500));
  return { stub, port: (await stub.listen()).port };
}

test('serving TCP: a client following a recorded session gets its replies; one that strays is closed', async (t) => {
  const { store, dir } = await openStore(t);
  await recordRedisSession(t, store, dir);
  const { stub, port } = await startStub(t, store);
  const client = await RespClient.open(port);
  for (const [cmd, reply] of SESSION) assert.equal(await client.call(...cmd), reply);
  assert.equal(await client.call('QUIT'), '+OK\r\n');
  await waitFor(() => client.closed, 'the stub to close like the recorded server did');

  const stray = await RespClient.open(port);
  assert.equal(await stray.call('SET', 'k1', 'v1'), '+OK\r\n');
  assert.equal(await stray.call('FLUSHALL'), null, 'no recorded session continues like this: closed');
  await waitFor(() => stub.status().misses === 1 && stub.status().hits === 1, 'one hit and one miss');
  assert.deepEqual(stub.status(), { sessions: 1, hits: 1, misses: 1 });
});

test('serving TCP: a miss is logged at info with the closest recording and where the client left it, and counted in status and metrics', async (t) => {
  const { store, dir } = await openStore(t);
  await recordRedisSession(t, store, dir);
  const recorded = store.list({ limit: 1, protocol: 'tcp' }).records[0]!.id;
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const logger = { info: (obj: object, msg: string) => void lines.push({ obj: obj as Record<string, unknown>, msg }), warn() {} };
  const metrics = new Metrics();
  const { stub, port } = await startStub(t, store, { logger, observer: metrics.playback });
  const misses = (): Array<Record<string, unknown>> => lines.filter((l) => l.msg.startsWith('tcp serve miss')).map((l) => l.obj);

  // Follows the recording for one command, then leaves it.
  const stray = await RespClient.open(port);
  assert.equal(await stray.call('SET', 'k1', 'v1'), '+OK\r\n');
  assert.equal(await stray.call('FLUSHALL'), null, 'closed');
  await waitFor(() => misses().length === 1, 'the first miss logged');
  const first = misses()[0]!;
  assert.match(String(first.client), /^127\.0\.0\.1:\d+$/);
  assert.equal(first.received_bytes, resp('SET', 'k1', 'v1').length + resp('FLUSHALL').length);
  const closest = first.closest as { id: string; matched_bytes: number; difference: string };
  assert.equal(closest.id, recorded);
  assert.equal(closest.matched_bytes, resp('SET', 'k1', 'v1').length + 1, 'the "*" of the next command matched too');
  assert.match(closest.difference, /^client bytes: .*first difference at character \d+: .*SET.* → .*FLUSHALL/);

  // Nothing like any recording from the first byte: the closest is found in the index.
  const garbage = connect({ host: '127.0.0.1', port });
  garbage.on('error', () => undefined);
  garbage.end('HELLO\r\n');
  await once(garbage, 'close');
  await waitFor(() => misses().length === 2, 'the second miss logged');
  const second = misses()[1]!.closest as { id: string; matched_bytes: number; difference: string };
  assert.equal(second.id, recorded);
  assert.equal(second.matched_bytes, 0);
  assert.match(second.difference, /first difference at character 0: .* → .*HELLO/);

  await waitFor(() => stub.status().misses === 2, 'both misses counted');
  assert.deepEqual(stub.status(), { sessions: 1, hits: 0, misses: 2 });
  assert.match(await metrics.render(), /^qproxy_playback_served_total\{protocol="tcp",outcome="miss"\} 2$/m);
});

test('serving TCP: a server that speaks first gets its greeting sent before the client says anything', async (t) => {
  const { store } = await openStore(t);
  const greeter = createServer({ allowHalfOpen: true }, (s: Socket) => {
    s.on('error', () => undefined);
    s.write('220 ready\r\n');
    s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
    s.on('end', () => s.end());
  });
  greeter.listen(0, '127.0.0.1');
  await once(greeter, 'listening');
  defer(t, () => new Promise((r) => greeter.close(r)));
  const proxy = await startTcpProxy(t, `127.0.0.1:${(greeter.address() as AddressInfo).port}`, store);

  const talk = async (port: number): Promise<string> => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    await waitFor(() => got === '220 ready\r\n', 'the greeting');
    s.write('hello\r\n');
    await waitFor(() => got.endsWith('HELLO\r\n'), 'the answer');
    s.end();
    await once(s, 'close');
    return got;
  };
  assert.equal(await talk(proxy.port), '220 ready\r\nHELLO\r\n');
  await storedSessions(store, 1);
  const { port } = await startStub(t, store);
  assert.equal(await talk(port), '220 ready\r\nHELLO\r\n');
});
