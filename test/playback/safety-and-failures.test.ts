import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { ReplayResult } from '../../src/playback/results/result.js';
import { finished, httpRecord, json, openEngine, openStore, params, putRecords, startBackend, type Doc } from './helpers.js';

function results(engine: Awaited<ReturnType<typeof openEngine>>, id: string, status?: string): ReplayResult[] {
  return engine.manager.results(id, { limit: 100, ...(status && { status }) })!.results;
}

test('safety policy: unsafe methods are dry runs by default, rules skip routes; both are counted and nothing is sent', async (t) => {
  const { store, path } = await openStore(t);
  await putRecords(store, [
    httpRecord({ method: 'GET', url: '/api/items', resBody: '{}' }),
    httpRecord({ method: 'POST', url: '/api/orders', reqBody: '{"a":1}', resBody: '{}' }),
    httpRecord({ method: 'DELETE', url: '/api/orders/9', resBody: '{}' }),
    httpRecord({ method: 'GET', url: '/admin/reset?all=1', resBody: '{}' }),
    httpRecord({ method: 'PUT', url: '/api/profile', reqBody: '{}', resBody: '{}' }),
  ]);
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const engine = await openEngine(t, store, path, [backend.origin]);
  const safety = {
    rules: [
      { method: ['*'], path: '/admin/**', action: 'skip' as const },
      { method: ['PUT'], path: '/api/profile', action: 'replay' as const },
    ],
    safe_methods: 'replay' as const,
    unsafe_methods: 'dry_run' as const,
  };
  const doc = await finished(engine, (engine.manager.createResolved(params({ safety })) as Doc).id);
  assert.deepEqual(doc.summary.counts, { match: 2, mismatch: 0, failed: 0, skipped: 1, dry_run: 2, missing: 0 });
  assert.equal(doc.summary.success_rate, 1);
  assert.deepEqual(backend.seen.map((s) => `${s.method} ${s.url}`).sort(), ['GET /api/items', 'PUT /api/profile']);
  const dry = results(engine, doc.id, 'dry_run');
  assert.deepEqual(dry.map((r) => r.error).sort(), ['dry run: would send DELETE /api/orders/9 (0 body bytes)', 'dry run: would send POST /api/orders (7 body bytes)']);
  assert.match(results(engine, doc.id, 'skipped')[0]!.error!, /^safety policy: skip \(GET \/admin\/reset\)$/);
});

test('bad input: gone records are "missing", truncated request bodies are skipped, truncated responses compare by prefix', async (t) => {
  const { store, path } = await openStore(t);
  const kept = httpRecord({ url: '/big', resBody: 'A'.repeat(64), resTruncated: true, resHeaders: [['content-type', 'text/plain']] });
  const upload = httpRecord({ method: 'POST', url: '/upload', reqBody: 'x'.repeat(32), reqTruncated: true });
  const gone = httpRecord({ url: '/gone' });
  await putRecords(store, [kept, upload, gone]);
  assert.equal(await store.delete(gone.id), true);
  const backend = await startBackend(t, (req, _b, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('A'.repeat(200));
  });
  const engine = await openEngine(t, store, path, [backend.origin]);
  const doc = await finished(engine, (engine.manager.createResolved(params({ ids: [kept.id, upload.id, gone.id] })) as Doc).id);
  assert.deepEqual(doc.summary.counts, { match: 1, mismatch: 0, failed: 0, skipped: 1, dry_run: 0, missing: 1 });
  assert.equal(doc.summary.truncated, 1);
  const all = new Map(results(engine, doc.id).map((r) => [r.record_id, r]));
  assert.equal(all.get(gone.id)!.status, 'missing');
  assert.match(all.get(gone.id)!.error!, /no longer in the store/);
  assert.equal(all.get(upload.id)!.status, 'skipped');
  assert.match(all.get(upload.id)!.error!, /request body was truncated at record time \(32 of 1032 bytes kept\)/);
  const big = all.get(kept.id)!;
  assert.equal(big.status, 'match');
  assert.equal(big.truncated, true);
  assert.match(big.diff!, /note: recorded body was truncated: compared the first 64 B only/);
  assert.deepEqual(backend.seen.map((s) => s.url), ['/big']);
});

test('targets that refuse or hang fail with a coded error and no retry', async (t) => {
  const { store, path } = await openStore(t);
  await putRecords(store, [httpRecord({ url: '/a' }), httpRecord({ url: '/b' })]);

  // A port nothing listens on: reserve one, then close it.
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const freePort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const refused = await openEngine(t, store, path, [`http://127.0.0.1:${freePort}`]);
  const r1 = await finished(refused, (refused.manager.createResolved(params()) as Doc).id);
  assert.equal(r1.summary.counts.failed, 2);
  assert.equal(r1.summary.success_rate, 0);
  assert.deepEqual(r1.summary.top_errors, [{ error: 'QP_ERR_REPLAY_CONNECT', count: 2 }]);
  assert.match(results(refused, r1.id)[0]!.error!, /^QP_ERR_REPLAY_CONNECT: cannot connect to http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);

  const hanging = await startBackend(t, () => undefined);
  const slow = await openEngine(t, store, path, [hanging.origin], { timeoutMs: 200 });
  const r2 = await finished(slow, (slow.manager.createResolved(params()) as Doc).id);
  assert.deepEqual(r2.summary.top_errors, [{ error: 'QP_ERR_REPLAY_TIMEOUT', count: 2 }]);
  assert.equal(hanging.seen.length, 2, 'each record was sent exactly once: no silent retry');
});

test('cancelling a running replay stops it: queued requests are dropped and the state says so', async (t) => {
  const { store, path } = await openStore(t);
  const t0 = Date.now() - 60_000;
  await putRecords(store, Array.from({ length: 20 }, (_, i) => httpRecord({ url: `/c/${i}`, startedAt: t0 + i * 1000 })));
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const engine = await openEngine(t, store, path, [backend.origin]);
  const { id } = engine.manager.createResolved(params({ speed: 1 })) as Doc;
  const cancelled = (await engine.manager.remove(id)) as Doc;
  assert.equal(cancelled.state, 'cancelled');
  const doc = await finished(engine, id);
  assert.equal(doc.state, 'cancelled');
  assert.ok(backend.seen.length < 20, `only what had started was sent (${backend.seen.length})`);
  assert.equal(await engine.manager.remove(id), 'deleted');
  assert.equal(engine.manager.get(id), null);
  assert.equal(engine.manager.results(id, { limit: 10 }), null);
});
