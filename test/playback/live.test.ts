import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareDefaults, httpRecord, json, openEngine, openStore, putRecords, replayAll, startBackend, waitFor } from './helpers.js';

const live = { enabled: true, delayMs: 150, concurrency: 8, compare: compareDefaults, safety: replayAll };

test('live replay follows the store from where it stood, in recorded order, and keeps its cursor across restarts', async (t) => {
  const { store, path } = await openStore(t);
  await putRecords(store, [httpRecord({ url: '/before-start', resBody: '{}' })]);
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const first = await openEngine(t, store, path, [backend.origin], { live });

  // Arriving out of order (as records from two nodes may): replayed in recorded order. One recorded
  // connection, so the order shows at the backend even when a stall makes both due at once (requests
  // of different connections may then overtake each other on the way).
  const now = Date.now();
  const client = { address: '10.0.0.9', port: 41_000 };
  await putRecords(store, [httpRecord({ url: '/live/2', startedAt: now + 40, resBody: '{}', client }), httpRecord({ url: '/live/1', startedAt: now, resBody: '{}', client })]);
  await waitFor(() => backend.seen.length === 2, 'two live replays');
  assert.deepEqual(backend.seen.map((s) => s.url), ['/live/1', '/live/2']);
  await waitFor(() => first.manager.status().replayed === 2, 'two results');
  const status = first.manager.status();
  assert.equal(status.matched, 2);
  assert.equal(status.success_rate, 1);
  assert.equal((status.live as { enabled: boolean }).enabled, true);
  assert.equal((status.live as { cursor: number }).cursor, store.stats().lastSeq);
  await first.close(1_000);

  // A new engine on the same files: the durable cursor means nothing is replayed twice.
  await putRecords(store, [httpRecord({ url: '/live/3', resBody: '{}' })]);
  const second = await openEngine(t, store, path, [backend.origin], { live });
  await waitFor(() => backend.seen.length === 3, 'the record stored while no engine ran');
  await waitFor(() => second.manager.status().replayed === 1, 'its result');
  assert.deepEqual(backend.seen.map((s) => s.url), ['/live/1', '/live/2', '/live/3']);
  const doc = second.manager.get('live') as { kind: string; state: string; summary: { counts: { match: number } } };
  assert.equal(doc.kind, 'live');
  assert.equal(doc.summary.counts.match, 1);
  await assert.rejects(second.manager.remove('live'), { code: 'QP_ERR_REPLAY_LIVE' });
});
