/**
 * Redis sessions read as RESP: recorded through the real proxy with tcp.protocol "redis",
 * replayed into an empty redis-server command by command, compared reply by reply.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { JsonConversation } from '../../src/api/conversation-json.js';
import { call, startApi } from '../api/api-helpers.js';
import { finished, openEngine, openStore, params, waitFor, type Doc } from '../playback/helpers.js';
import { RespClient, startRedis, startTcpProxy } from '../playback/tcp-helpers.js';

const run = promisify(execFile);

/**
 * Every redis-benchmark test but the 300-600 element LRANGEs (megabytes of identical replies that
 * would make this file slow without testing anything LRANGE_100 does not). One client (-c 1):
 * with several, which client's INCR gets which number depends on how the server interleaved
 * them, which no recording captures, so those replies would differ in any replay.
 */
const BENCH_TESTS = 'ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset,xadd';

test('redis-benchmark -n 2000 recorded through the proxy and replayed into an empty redis: same keys and values, every session matched', async (t) => {
  const { store, path, dir } = await openStore(t);
  const source = await startRedis(t, dir);
  const proxy = await startTcpProxy(t, source.target, store, { appProtocol: 'redis', maxSessionBytes: 64 * 1024 * 1024 });
  await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(proxy.port), '-n', '2000', '-c', '1', '-q', '-t', BENCH_TESTS], { timeout: 120_000 });
  // Closed, the proxy has handed every session's last record to the store; flushed, they are all
  // stored (counting before that can catch the store between two sessions).
  await proxy.close();
  await store.flush();
  const sessions = (): number => store.list({ limit: 1000, protocol: 'tcp' }).records.filter((r) => r.state === 'closed').length;
  await waitFor(() => sessions() > 0 && store.stats().count === sessions(), 'every benchmark session stored and closed');
  const recorded = sessions();

  const target = await startRedis(t, dir);
  const engine = await openEngine(t, store, path, [], { http: null, tcp: { targets: [{ host: '127.0.0.1', port: target.port }], replyTimeoutMs: 5_000, compare: 'exact' } });
  const id = (engine.manager.createResolved(params({ filter: { protocol: 'tcp' }, concurrency: 4 })) as Doc).id;
  await waitFor(() => (engine.manager.get(id) as Doc).state !== 'running', 'the replay to finish', 12_000);
  const doc = await finished(engine, id);
  const bad = engine.manager.results(doc.id, { limit: 3, status: 'mismatch' })!.results;
  const failed = engine.manager.results(doc.id, { limit: 3, status: 'failed' })!.results;
  const why = [...bad.map((r) => r.diff), ...failed.map((r) => JSON.stringify(r.error))].join('\n');
  assert.equal(doc.summary.counts.match, recorded, `every session matched (${JSON.stringify(doc.summary.counts)}); first differences and failures:\n${why}`);
  assert.equal(doc.summary.success_rate, 1);

  const a = await RespClient.open(source.port);
  const b = await RespClient.open(target.port);
  t.after(() => Promise.all([a.close(), b.close()]));
  assert.equal(await b.call('DBSIZE'), await a.call('DBSIZE'));
  for (const key of ['key:__rand_int__', 'counter:__rand_int__']) assert.equal(await b.call('GET', key), await a.call('GET', key));
  assert.equal(await b.call('LLEN', 'mylist'), await a.call('LLEN', 'mylist'));
});

test('a RESP3 redis-cli session with a password: replay logs in with zone B\'s, every reply matches, the API shows the commands with credentials hidden', async (t) => {
  const { store, path, dir } = await openStore(t);
  const source = await startRedis(t, dir, ['--requirepass', 'zone-a-pw']);
  const proxy = await startTcpProxy(t, source.target, store, { appProtocol: 'redis' });
  const child = execFile('redis-cli', ['-3', '-h', '127.0.0.1', '-p', String(proxy.port), '-a', 'zone-a-pw', '--no-auth-warning']);
  child.stdin!.end('SET greeting hello\nHSET h f1 a f2 b\nHGETALL h\nINCR counter\nSMEMBERS nothing\nCLIENT ID\nGET missing\n');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
  await waitFor(() => store.list({ limit: 10, protocol: 'tcp' }).records.some((r) => r.state === 'closed'), 'the session stored');
  const id = store.list({ limit: 10, protocol: 'tcp' }).records[0]!.id;

  const api = await startApi(t, { records: store });
  const conv = (await call(api.port, 'GET', `/api/records/${id}`)).json().conversation as JsonConversation;
  assert.deepEqual(conv.opening.map((m) => 'summary' in m && m.summary.replace(/\(map \d+\).*/, '(map)')), ['AUTH ***', 'OK', 'HELLO 3', '(map)']);
  const lines = conv.exchanges.map((e) => `${e.request.map((m) => 'summary' in m && m.summary).join()} → ${e.answer.map((m) => 'summary' in m && m.summary).join()}`);
  assert.match(lines[0]!, /^COMMAND DOCS → \(map \d+\) \{"[a-z_]+": \(map \d+\), /, 'redis-cli asks for the command docs first');
  assert.deepEqual(lines.slice(1, 6), ['SET greeting hello → OK', 'HSET h f1 a f2 b → (integer) 2', 'HGETALL h → (map 2) {"f1": "a", "f2": "b"}', 'INCR counter → (integer) 1', 'SMEMBERS nothing → (set 0) []']);

  const target = await startRedis(t, dir, ['--requirepass', 'zone-b-pw']);
  const engine = await openEngine(t, store, path, [], {
    http: null,
    tcp: { targets: [{ host: '127.0.0.1', port: target.port }], replyTimeoutMs: 5_000, compare: 'exact', creds: { user: 'default', password: 'zone-b-pw' } },
  });
  const doc = await finished(engine, (engine.manager.createResolved(params({ filter: { protocol: 'tcp' } })) as Doc).id);
  const [result] = engine.manager.results(doc.id, { limit: 1 })!.results;
  assert.equal(result!.status, 'match', `${result!.error ?? ''}${result!.diff ?? ''}`);
  assert.match(result!.diff ?? '', /^(note: 1 answers not compared \(playback\.tcp\.ignore\.requests\))?$/, 'CLIENT ID is left out by default');
  const b = await RespClient.open(target.port);
  t.after(() => b.close());
  assert.equal(await b.call('AUTH', 'zone-b-pw'), '+OK\r\n');
  assert.equal(await b.call('GET', 'greeting'), '$5\r\nhello\r\n');
});
