import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finished, openEngine, openStore, params, type Doc } from './helpers.js';
import { WORKLOAD, recordWorkload, startService } from './workload.js';

const REWRITE = { keep_host: false, headers: { authorization: 'Bearer zone-b-token' }, query: {}, set_headers: { 'x-qproxy-replay': '1' } };

test('a workload recorded through the proxy replays 100% against an identical zone B', async (t) => {
  const { store, path } = await openStore(t);
  const zoneA = await startService(t, { token: 'prod-secret' });
  await recordWorkload(t, store, zoneA);
  assert.equal(store.stats().count, WORKLOAD.length);
  const recorded = store.list({ limit: 100 }).records.find((r) => r.url === '/api/me')!;
  const me = store.get(recorded.id);
  assert.ok(me?.protocol === 'http' && me.redacted.includes('request.headers.authorization'), 'the credential was redacted at record time');

  const zoneB = await startService(t, { token: 'zone-b-token' });
  const engine = await openEngine(t, store, path, [zoneB.origin], {
    http: { origins: [zoneB.origin], tls: { rejectUnauthorized: true }, rewrite: REWRITE },
  });
  const doc = await finished(engine, (engine.manager.createResolved(params({ concurrency: 4 })) as Doc).id);

  assert.equal(doc.state, 'done');
  assert.deepEqual(doc.summary.counts, { match: WORKLOAD.length, mismatch: 0, failed: 0, skipped: 0, dry_run: 0, missing: 0 });
  assert.equal(doc.summary.success_rate, 1);
  assert.equal(zoneB.seen.length, WORKLOAD.length);
  const me2 = zoneB.seen.find((s) => s.url === '/api/me')!;
  assert.equal(me2.headers.authorization, 'Bearer zone-b-token', 'the redacted credential was substituted');
  assert.equal(me2.headers['x-qproxy-replay'], '1');
  assert.equal(me2.headers.host, `127.0.0.1:${zoneB.port}`, 'Host is the target\'s');
  const order = zoneB.seen.find((s) => s.url === '/api/orders')!;
  assert.equal(order.body.toString(), '{"item":1,"qty":3}');
  assert.equal(order.headers['content-length'], '18');
});

test('zone B with one changed field and one changed status: exactly those two mismatches, readable; ignore rules remove them', async (t) => {
  const { store, path } = await openStore(t);
  await recordWorkload(t, store, await startService(t, { token: 'prod-secret' }));
  const zoneB = await startService(t, { token: 'zone-b-token', changed: true });
  const engine = await openEngine(t, store, path, [zoneB.origin], {
    http: { origins: [zoneB.origin], tls: { rejectUnauthorized: true }, rewrite: REWRITE },
  });

  const doc = await finished(engine, (engine.manager.createResolved(params()) as Doc).id);
  assert.equal(doc.summary.counts.match, WORKLOAD.length - 2);
  assert.equal(doc.summary.counts.mismatch, 2);
  assert.equal(doc.summary.success_rate, Math.round(((WORKLOAD.length - 2) / WORKLOAD.length) * 10_000) / 10_000);
  assert.deepEqual(doc.summary.top_differences.map((d) => d.kind).sort(), ['json $.price', 'status']);

  const page = engine.manager.results(doc.id, { status: 'mismatch', limit: 10 })!;
  const byTarget = new Map((page.results).map((r) => [r.target, r]));
  assert.deepEqual([...byTarget.keys()].sort(), ['/api/items/2', '/api/missing']);
  assert.equal(byTarget.get('/api/items/2')!.diff, '$.price: 12 → 11');
  assert.deepEqual(byTarget.get('/api/items/2')!.kinds, ['json $.price']);
  assert.equal(byTarget.get('/api/missing')!.diff, 'status: 404 → 500');
  assert.equal(byTarget.get('/api/missing')!.recorded_status, 404);
  assert.equal(byTarget.get('/api/missing')!.replayed_status, 500);

  const ignoring = params({ compare: { ...params().compare, status: false, ignore: { headers: [], json_paths: ['$.price'], patterns: [] } } });
  const again = await finished(engine, (engine.manager.createResolved(ignoring) as Doc).id);
  assert.equal(again.summary.counts.match, WORKLOAD.length);
  assert.equal(again.summary.success_rate, 1);
});
