import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { ApiServer } from '../../src/api/api-server.js';
import type { ReplaysApi } from '../../src/playback/replay-params.js';
import type { Store } from '../../src/store/index.js';
import { defer, finished, httpRecord, json, openEngine, openStore, putRecords, startBackend, waitFor, type Doc } from './helpers.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function call(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { 'content-type': 'application/json', ...headers };
    const req = request({ host: '127.0.0.1', port, method, path, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startApi(t: TestContext, store: Store, replays: ReplaysApi | undefined, token?: string): Promise<number> {
  const server = new ApiServer({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    records: store,
    status: () => ({ mode: 'Playback' }),
    metrics: { render: () => Promise.resolve(''), contentType: 'text/plain' },
    ready: () => true,
    logger: pino({ level: 'silent' }),
    ...(token !== undefined && { token }),
    ...(replays !== undefined && { replays }),
  });
  defer(t, () => server.close());
  return (await server.listen()).port;
}

test('POST /api/replays starts a replay; GET shows progress and results; DELETE cancels, then deletes', async (t) => {
  const { store, path } = await openStore(t);
  const t0 = Date.parse('2024-05-01T12:00:00Z');
  await putRecords(store, [
    httpRecord({ url: '/api/a', startedAt: t0, resBody: '{"v":1}' }),
    httpRecord({ url: '/api/b', startedAt: t0 + 1000, resBody: '{"v":1}' }),
    httpRecord({ method: 'POST', url: '/api/c', startedAt: t0 + 2000, resBody: '{"v":1}' }),
    httpRecord({ url: '/other', startedAt: t0 + 3000, resBody: '{"v":1}' }),
  ]);
  const backend = await startBackend(t, (req, _b, res) => json(res, 200, { v: req.url === '/api/b' ? 2 : 1 }));
  const engine = await openEngine(t, store, path, [backend.origin]);
  const port = await startApi(t, store, engine.manager, 'secret');
  const auth = { authorization: 'Bearer secret' };

  const started = await call(port, 'POST', '/api/replays', JSON.stringify({
    start: '2024-05-01T12:00:00Z',
    end: '2024-05-01T13:00:00Z',
    path: '/api/*',
    speed: 0,
    concurrency: 2,
    safety: { unsafe_methods: 'skip' },
  }), auth);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const id = started.body.id as string;
  assert.equal(started.headers.location, `/api/replays/${id}`);
  assert.deepEqual((started.body.params as { filter: unknown }).filter, { path: '/api/*' });

  await finished(engine, id);
  const one = await call(port, 'GET', `/api/replays/${id}`, undefined, auth);
  assert.equal(one.status, 200);
  const summary = one.body.summary as Doc['summary'];
  assert.deepEqual(summary.counts, { match: 1, mismatch: 1, failed: 0, skipped: 1, dry_run: 0, missing: 0 });
  assert.equal(summary.success_rate, 0.5);

  const list = await call(port, 'GET', '/api/replays?limit=5', undefined, auth);
  assert.deepEqual((list.body.replays as Array<{ id: string }>).map((r) => r.id), [id]);

  const mismatches = await call(port, 'GET', `/api/replays/${id}/results?status=mismatch`, undefined, auth);
  assert.equal(mismatches.status, 200);
  const rows = mismatches.body.results as Array<{ target: string; diff: string }>;
  assert.deepEqual(rows.map((r) => [r.target, r.diff]), [['/api/b', '$.v: 1 → 2']]);
  assert.equal(mismatches.body.next, null);

  const page1 = await call(port, 'GET', `/api/replays/${id}/results?limit=2`, undefined, auth);
  assert.equal((page1.body.results as unknown[]).length, 2);
  const page2 = await call(port, 'GET', `/api/replays/${id}/results?limit=2&cursor=${String(page1.body.next)}`, undefined, auth);
  assert.equal((page2.body.results as unknown[]).length, 1);
  assert.equal(page2.body.next, null);

  assert.equal((await call(port, 'DELETE', `/api/replays/${id}`, undefined, auth)).status, 204);
  assert.equal((await call(port, 'GET', `/api/replays/${id}`, undefined, auth)).status, 404);
  assert.equal((await call(port, 'GET', `/api/replays/${id}/results`, undefined, auth)).status, 404);

  const slow = await call(port, 'POST', '/api/replays', JSON.stringify({ start: '2024-05-01T12:00:00Z', speed: 0.001 }), auth);
  assert.equal(slow.status, 201);
  await waitFor(() => backend.seen.length >= 3, 'the first request of the slow replay');
  const cancelled = await call(port, 'DELETE', `/api/replays/${String(slow.body.id)}`, undefined, auth);
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.state, 'cancelled');
});

test('replay requests are validated: bad JSON, unknown keys, bad values, wrong content type, no token', async (t) => {
  const { store, path } = await openStore(t);
  const engine = await openEngine(t, store, path, ['http://127.0.0.1:9']);
  const port = await startApi(t, store, engine.manager, 'secret');
  const auth = { authorization: 'Bearer secret' };
  const bad = async (body: string, pattern: RegExp): Promise<void> => {
    const r = await call(port, 'POST', '/api/replays', body, auth);
    assert.equal(r.status, 400, body);
    assert.equal(r.body.code, 'QP_ERR_API_BAD_PARAM');
    assert.match(String(r.body.error), pattern);
  };
  await bad('{', /the body is not JSON/);
  await bad('{"sped": 2}', /Unrecognized key.*sped|sped/);
  await bad('{"speed": -1}', /speed: expected a number ≥ 0/);
  await bad('{"start": "yesterday"}', /start: expected an ISO 8601 date-time/);
  await bad('{"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"}', /start must be before end/);
  await bad('{"ids": ["a"], "start": "2024-05-01T00:00:00Z"}', /either ids or a time range/);
  await bad('{"compare": {"ignore": {"json_paths": ["price"]}}}', /compare\.ignore\.json_paths\.0: expected a JSON path/);
  await bad('{"safety": {"rules": [{"path": "/x", "action": "maybe"}]}}', /safety\.rules\.0\.action: expected "replay", "skip" or "dry_run"/);
  const text = await call(port, 'POST', '/api/replays', '{}', { ...auth, 'content-type': 'text/plain' });
  assert.equal(text.status, 415);
  const noToken = await call(port, 'POST', '/api/replays', '{}');
  assert.equal(noToken.status, 401);
  assert.equal((await call(port, 'GET', '/api/replays?color=red', undefined, auth)).status, 400);
  assert.equal((await call(port, 'GET', '/api/replays/nope', undefined, auth)).status, 404);
  assert.equal((await call(port, 'GET', '/api/replays/live/results?status=weird', undefined, auth)).status, 404);
});

test('a node without playback has no replay routes', async (t) => {
  const { store } = await openStore(t);
  const port = await startApi(t, store, undefined);
  assert.equal((await call(port, 'GET', '/api/replays')).status, 404);
  const post = await call(port, 'POST', '/api/status', '{}');
  assert.equal(post.status, 405);
  assert.equal(post.headers.connection, 'close');
});

test('GET /api/replays/{id}/results/{record_id} lays both answers side by side; the summary ranks endpoints by mismatch', async (t) => {
  const { store, path } = await openStore(t);
  const t0 = Date.parse('2024-05-01T12:00:00Z');
  const items = [1, 2].map((n) => httpRecord({ url: `/api/items/${n}`, startedAt: t0 + n * 1000, resBody: `{"id":${n},"price":${n * 10},"at":"rec"}` }));
  const other = httpRecord({ url: '/api/other?x=1', startedAt: t0 + 5000, resBody: '{"ok":true}' });
  await putRecords(store, [...items, other]);
  // Zone B adds one to every item price and stamps another "at"; /api/other answers the same.
  const backend = await startBackend(t, (req, _b, res) => {
    const m = /^\/api\/items\/(\d+)$/.exec(req.url ?? '');
    if (m) json(res, 200, { id: Number(m[1]), price: Number(m[1]) * 10 + 1, at: 'replayed' });
    else json(res, 200, { ok: true });
  });
  const engine = await openEngine(t, store, path, [backend.origin]);
  const port = await startApi(t, store, engine.manager, 'secret');
  const auth = { authorization: 'Bearer secret' };
  const started = await call(port, 'POST', '/api/replays', JSON.stringify({ speed: 0, compare: { ignore: { json_paths: ['$.at'] } } }), auth);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const id = started.body.id as string;
  const doc = await finished(engine, id);
  assert.deepEqual(doc.summary.endpoints, [
    { endpoint: 'GET /api/items/{id}', results: 2, match: 0, mismatch: 2, failed: 0, mismatch_rate: 1 },
    { endpoint: 'GET /api/other', results: 1, match: 1, mismatch: 0, failed: 0, mismatch_rate: 0 },
  ]);

  const detail = await call(port, 'GET', `/api/replays/${id}/results/${items[1]!.id}`, undefined, auth);
  assert.equal(detail.status, 200, JSON.stringify(detail.body));
  const d = detail.body as unknown as {
    result: { status: string; kinds: string[] };
    recorded: { status: number; body: { text: string } };
    replayed: { status: number; body: { text: string } };
    comparison: { status: { differs: boolean }; headers: Array<{ name: string; state: string }>; body: { kind: string; fields: Array<{ name: string; recorded: string | null; replayed: string | null; state: string }> } };
  };
  assert.equal(d.result.status, 'mismatch');
  assert.deepEqual(d.result.kinds, ['json $.price']);
  assert.equal(d.recorded.body.text, '{"id":2,"price":20,"at":"rec"}');
  assert.deepEqual(JSON.parse(d.replayed.body.text), { id: 2, price: 21, at: 'replayed' });
  assert.equal(d.comparison.status.differs, false);
  assert.equal(d.comparison.body.kind, 'json');
  assert.deepEqual(
    d.comparison.body.fields.map((f) => [f.name, f.recorded, f.replayed, f.state]),
    [
      ['$.id', '2', '2', 'same'],
      ['$.price', '20', '21', 'differs'],
      ['$.at', '"rec"', '"replayed"', 'ignored'],
    ],
  );
  assert.equal(d.comparison.headers.find((h) => h.name === 'content-type')?.state, 'same');
  assert.equal(d.comparison.headers.find((h) => h.name === 'date')?.state, 'ignored', 'only the configured headers are compared');

  // A match keeps no replayed answer: the recorded one is there, the comparison is not.
  const match = await call(port, 'GET', `/api/replays/${id}/results/${other.id}`, undefined, auth);
  assert.equal(match.status, 200);
  assert.equal((match.body.result as { status: string }).status, 'match');
  assert.equal(match.body.replayed, null);
  assert.equal(match.body.comparison, null);
  assert.equal((match.body.recorded as { status: number }).status, 200);

  const none = await call(port, 'GET', `/api/replays/${id}/results/01a2b3c4-0000-7000-8000-000000000000`, undefined, auth);
  assert.equal(none.status, 404);
  assert.equal(none.body.code, 'QP_ERR_API_RESULT_NOT_FOUND');
  const noReplay = await call(port, 'GET', `/api/replays/nope/results/${other.id}`, undefined, auth);
  assert.equal(noReplay.body.code, 'QP_ERR_API_REPLAY_NOT_FOUND');
  assert.equal((await call(port, 'GET', `/api/replays/${id}/results/${other.id}?x=1`, undefined, auth)).status, 400);
});
