/**
 * A HAR import is replayed against zone B only when the importer asks: the live replay passes over
 * imported records (also after a restart), and `replay=true` starts an on-demand replay of exactly
 * the imported records. Real store files, a real replay engine, a real zone B backend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIVE_EXCLUDED_META, LiveExclusions } from '../../src/playback/source/live-exclusions.js';
import {
  compareDefaults,
  finished,
  httpRecord,
  json,
  openEngine,
  openStore,
  putRecords,
  replayAll,
  silentLog,
  startBackend,
  waitFor,
} from '../playback/helpers.js';
import type { ReplayManagerStatus } from '../../src/core/documents.js';
import { memoryLogger, post, startApi } from '../api/api-helpers.js';
import { fixtureText, importFixture } from './har-helpers.js';

const live = { enabled: true, delayMs: 0, concurrency: 8, compare: compareDefaults, safety: replayAll };

function liveCursor(engine: { manager: { status(): ReplayManagerStatus } }): number {
  return (engine.manager.status().live as { cursor: number }).cursor;
}

test('the live replay passes over imported records, around records that arrive by sync, and across a restart', async (t) => {
  const { store, path } = await openStore(t);
  const zoneB = await startBackend(t, (_req, _body, res) => json(res, 200, {}));
  const exclusions = LiveExclusions.load(store, silentLog);
  const first = await openEngine(t, store, path, [zoneB.origin], { live, exclusions });

  await putRecords(store, [httpRecord({ url: '/synced/1', resBody: '{}' })]);
  const imported = await exclusions.ingest(importFixture('chrome.har'));
  assert.equal(imported.stored, 3);
  await putRecords(store, [httpRecord({ url: '/synced/2', resBody: '{}' })]);
  // The live cursor at the store's end: every position, imported ones included, is decided.
  await waitFor(() => liveCursor(first) === store.stats().lastSeq && first.manager.status().replayed === 2, 'the live replay through the whole feed');
  assert.deepEqual(zoneB.seen.map((s) => s.url).sort(), ['/synced/1', '/synced/2'], 'the synced records only');
  // Once the cursor is saved past the import, its exclusion is forgotten, in memory and in the store.
  await waitFor(() => exclusions.pending === 0 && store.getMeta(LIVE_EXCLUDED_META) === '[]', 'the exclusion dropped behind the cursor');
  await first.close(1_000);

  // Imported while no engine runs; the next start reads the exclusion from the store.
  await exclusions.ingest(importFixture('firefox.har'));
  await putRecords(store, [httpRecord({ url: '/synced/3', resBody: '{}' })]);
  const reloaded = LiveExclusions.load(store, silentLog);
  assert.equal(reloaded.pending, 1);
  const second = await openEngine(t, store, path, [zoneB.origin], { live, exclusions: reloaded });
  await waitFor(() => liveCursor(second) === store.stats().lastSeq && second.manager.status().replayed === 1, 'the live replay after the restart');
  assert.deepEqual(zoneB.seen.map((s) => s.url).sort(), ['/synced/1', '/synced/2', '/synced/3']);
});

test('POST /api/records?format=har&replay=true replays exactly the imported records; without it nothing is replayed', async (t) => {
  const { store, path } = await openStore(t);
  const zoneB = await startBackend(t, (req, _body, res) => {
    if (req.url === '/v1/login') json(res, 200, { user: 'ann', roles: ['admin'] });
    else {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from('iVBORw0KGgoAAAAN', 'base64'));
    }
  });
  await putRecords(store, [httpRecord({ url: '/recorded-before', resBody: '{}' })]);
  const exclusions = LiveExclusions.load(store, silentLog);
  const engine = await openEngine(t, store, path, [zoneB.origin], { exclusions });
  const log = memoryLogger();
  const { port } = await startApi(t, { records: store, version: '1.0.0', logger: log.logger, importer: exclusions, replays: engine.manager });

  const plain = await post(port, '/api/records?format=har', fixtureText('chrome.har'));
  assert.equal(plain.status, 201, plain.text);
  assert.equal('replay' in plain.json(), false, 'no replay unless asked');
  assert.equal((engine.manager.list(10) as unknown[]).length, 0, 'no replay was started');

  const res = await post(port, '/api/records?format=har&replay=true', fixtureText('mitmproxy.har'));
  assert.equal(res.status, 201, res.text);
  const body = res.json() as { imported: number; ids: string[]; replay: { id: string } };
  assert.equal(body.imported, 2);
  const doc = await finished(engine, body.replay.id);
  assert.equal(doc.state, 'done');
  assert.deepEqual(doc.summary.counts, { match: 2, mismatch: 0, failed: 0, skipped: 0, dry_run: 0, missing: 0 });
  assert.deepEqual(zoneB.seen.map((s) => s.url).sort(), ['/logo.png', '/v1/login']);
  const audit = log.lines().filter((l) => l.action === 'records.import');
  assert.deepEqual(audit.map((l) => l.replay), [null, body.replay.id]);

  const bad = await post(port, '/api/records?format=har&replay=yes', fixtureText('mitmproxy.har'));
  assert.equal(bad.status, 400);
  assert.match(String(bad.json().error), /replay must be true or false, got "yes"/);
});

test('a replay that cannot start leaves the import in place and says how to replay it later', async (t) => {
  const { store, path } = await openStore(t);
  const zoneB = await startBackend(t, (_req, _body, res) => json(res, 200, {}));
  const exclusions = LiveExclusions.load(store, silentLog);
  const engine = await openEngine(t, store, path, [zoneB.origin], { exclusions });
  const { port } = await startApi(t, { records: store, version: '1.0.0', importer: exclusions, replays: engine.manager });
  await engine.close(1_000);
  const res = await post(port, '/api/records?format=har&replay=true', fixtureText('mitmproxy.har'));
  assert.equal(res.status, 503, res.text);
  assert.equal(res.json().code, 'QP_ERR_REPLAY_CLOSED');
  assert.match(String(res.json().error), /^the 2 records were imported, but their replay could not start: .*POST \/api\/replays/);
  assert.equal(store.stats().count, 2);
  assert.equal(zoneB.seen.length, 0);
});
