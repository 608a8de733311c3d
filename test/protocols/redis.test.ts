/**
 * Redis sessions read as RESP: recorded through the real proxy with tcp.protocol "redis",
 * replayed into an empty redis-server command by command, compared reply by reply.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { ReplayResult } from '../../src/playback/results/result.js';
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
  await proxy.close();
  const sessions = (): number => store.list({ limit: 1000, protocol: 'tcp' }).records.filter((r) => r.state === 'closed').length;
  await waitFor(() => sessions() > 0 && store.stats().count === sessions(), 'every benchmark session stored and closed');
  const recorded = sessions();

  const target = await startRedis(t, dir);
  const engine = await openEngine(t, store, path, [], { http: null, tcp: { targets: [{ host: '127.0.0.1', port: target.port }], replyTimeoutMs: 5_000, compare: 'exact' } });
  const id = (engine.manager.createResolved(params({ filter: { protocol: 'tcp' }, concurrency: 4 })) as Doc).id;
  await waitFor(() => (engine.manager.get(id) as Doc).state !== 'running', 'the replay to finish', 12_000);
  const doc = await finished(engine, id);
  const bad = engine.manager.results(doc.id, { limit: 3, status: 'mismatch' })!.results as ReplayResult[];
  assert.equal(doc.summary.counts.match, recorded, `every session matched; first diffs:\n${bad.map((r) => r.diff).join('\n')}`);
  assert.equal(doc.summary.success_rate, 1);

  const a = await RespClient.open(source.port);
  const b = await RespClient.open(target.port);
  t.after(() => Promise.all([a.close(), b.close()]));
  assert.equal(await b.call('DBSIZE'), await a.call('DBSIZE'));
  for (const key of ['key:__rand_int__', 'counter:__rand_int__']) assert.equal(await b.call('GET', key), await a.call('GET', key));
  assert.equal(await b.call('LLEN', 'mylist'), await a.call('LLEN', 'mylist'));
});
