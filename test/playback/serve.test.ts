import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test, type TestContext } from 'node:test';
import { Forwarder } from '../../src/playback/serve/forwarder.js';
import { HttpStubServer, type HttpStubOptions } from '../../src/playback/serve/http-stub-server.js';
import { compileJsonPath } from '../../src/core/json-path.js';
import { HttpRecorder } from '../../src/recording/recorder.js';
import { RecordingSelector } from '../../src/recording/selector.js';
import type { Store } from '../../src/store/index.js';
import { defer, httpRecord, json, openStore, putRecords, startBackend, stubOptions, waitFor } from './helpers.js';

const MARK = 'REDACTED:hmac-sha256:00112233445566ff';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startStub(t: TestContext, store: Store, over: Partial<HttpStubOptions> = {}): Promise<{ stub: HttpStubServer; port: number }> {
  const stub = new HttpStubServer(stubOptions(store, over));
  defer(t, () => stub.close(500));
  const { port } = await stub.listen();
  return { stub, port };
}

test('repeated identical requests get the recorded answers in recorded order, then the last one again', async (t) => {
  const { store } = await openStore(t);
  const t0 = Date.now() - 10_000;
  const recs = [3, 1, 2].map((n) => httpRecord({ url: '/api/counter', startedAt: t0 + n, resBody: JSON.stringify({ n }), resHeaders: [['Content-Type', 'application/json'], ['X-Seq', String(n)]] }));
  await putRecords(store, recs);
  const { stub, port } = await startStub(t, store);
  const got: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await send(port, 'GET', '/api/counter');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.text)));
    got.push((JSON.parse(r.text) as { n: number }).n);
  }
  assert.deepEqual(got, [1, 2, 3, 3]);
  const last = await send(port, 'GET', '/api/counter');
  assert.equal(last.headers['x-qproxy-record-id'], recs[0]!.id, 'the answer names the recording it came from');
  assert.deepEqual(stub.status(), { recordings: 3, hits: 5, misses: 0, forwarded: 0 });
});

test('matching by method, path, query (any order) and body (JSON, any key order); a miss is a 404 naming the closest recording', async (t) => {
  const { store } = await openStore(t);
  const search = httpRecord({ method: 'POST', url: '/api/search?a=1&b=2', reqHeaders: [['content-type', 'application/json']], reqBody: '{"q":"tea","page":1}', status: 200, resBody: '{"hits":3}' });
  await putRecords(store, [search, httpRecord({ url: '/api/items', resBody: '[]' })]);
  const { stub, port } = await startStub(t, store);

  const hit = await send(port, 'POST', '/api/search?b=2&a=1', '{ "page": 1, "q": "tea" }', { 'content-type': 'application/json' });
  assert.equal(hit.status, 200);
  assert.equal(hit.text, '{"hits":3}');

  const otherQuery = await send(port, 'POST', '/api/search?a=1&b=3', '{"q":"tea","page":1}', { 'content-type': 'application/json' });
  assert.equal(otherQuery.status, 404);
  const body = JSON.parse(otherQuery.text) as { error: string; code: string; closest: { id: string; url: string; differs: string[] } };
  assert.equal(body.code, 'QP_ERR_SERVE_NO_MATCH');
  assert.equal(body.error, 'no recording matched POST /api/search?a=1&b=3');
  assert.deepEqual(body.closest, { id: search.id, method: 'POST', url: '/api/search?a=1&b=2', differs: ['query'] });

  const otherBody = JSON.parse((await send(port, 'POST', '/api/search?a=1&b=2', '{"q":"coffee","page":1}')).text) as { closest: { differs: string[] } };
  assert.deepEqual(otherBody.closest.differs, ['body']);
  const otherMethod = JSON.parse((await send(port, 'GET', '/api/search?a=1&b=2')).text) as { closest: { differs: string[] } };
  assert.deepEqual(otherMethod.closest.differs, ['method', 'body']);
  const typo = JSON.parse((await send(port, 'GET', '/api/item')).text) as { closest: { method: string; url: string; differs: string[] } };
  assert.deepEqual([typo.closest.method, typo.closest.url, typo.closest.differs], ['GET', '/api/items', ['path']]);
  assert.deepEqual(stub.status(), { recordings: 2, hits: 1, misses: 4, forwarded: 0 });
});

test('values redacted at record time and ignored parameters or JSON paths never decide a match', async (t) => {
  const { store } = await openStore(t);
  const me = httpRecord({ url: `/api/me?token=${MARK}&v=2`, resBody: '{"user":"ann"}' });
  me.redacted = ['request.query.token'];
  const login = httpRecord({ method: 'POST', url: '/login', reqBody: JSON.stringify({ user: 'ann', password: MARK, requestId: 'r-1' }), resBody: '{"ok":true}' });
  login.redacted = ['request.body$.password'];
  await putRecords(store, [me, login]);
  const { port } = await startStub(t, store, {
    match: { method: true, query: true, body: true, headers: [], ignoreQuery: new Set(['_']), ignoreJson: [compileJsonPath('$.requestId')] },
  });
  assert.equal((await send(port, 'GET', '/api/me?v=2&token=real-secret&_=12345')).status, 200);
  assert.equal((await send(port, 'GET', '/api/me?v=3&token=real-secret')).status, 404, 'other values still count');
  const ok = await send(port, 'POST', '/login', JSON.stringify({ requestId: 'r-999', password: 'hunter2', user: 'ann' }));
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '{"ok":true}');
});

test('recordings stored after start are served; a recorded failure is served as it happened', async (t) => {
  const { store } = await openStore(t);
  const { stub, port } = await startStub(t, store);
  assert.equal((await send(port, 'GET', '/later')).status, 404);
  const failed = httpRecord({ url: '/broken', noResponse: true });
  await putRecords(store, [httpRecord({ url: '/later', resBody: 'now here', resHeaders: [['content-type', 'text/plain']] }), failed]);
  await waitFor(() => stub.status().recordings === 2, 'the new recordings to be indexed');
  const later = await send(port, 'GET', '/later');
  assert.equal(later.status, 200);
  assert.equal(later.text, 'now here');
  const broken = await send(port, 'GET', '/broken');
  assert.equal(broken.status, 502);
  assert.match(broken.text, /the recorded exchange failed \(QP_ERR_DOWNSTREAM_CONNECT: refused\)/);
});

test('forward on miss: the downstream answers, the exchange is recorded, and the next identical request is served from it', async (t) => {
  const { store } = await openStore(t);
  const backend = await startBackend(t, (req, _b, res) => json(res, 200, { from: 'downstream', url: req.url }));
  const recorder = new HttpRecorder({ enabled: true, nodeId: 'az-b-1', maxBody: 1024 * 1024, redactor: null, sink: store });
  const forwarder = new Forwarder({ origins: [backend.origin], tls: { rejectUnauthorized: true }, timeoutMs: 2_000, maxResponseBytes: 1024 * 1024, recorder });
  const { stub, port } = await startStub(t, store, { forwarder });

  const first = await send(port, 'GET', '/fresh?x=1');
  assert.equal(first.status, 200);
  assert.deepEqual(JSON.parse(first.text), { from: 'downstream', url: '/fresh?x=1' });
  assert.equal(backend.seen.length, 1);
  await store.flush();
  stub.refresh();
  const stored = store.list({ limit: 10 }).records;
  assert.equal(stored.length, 1);
  assert.equal(stored[0]!.node_id, 'az-b-1');

  const second = await send(port, 'GET', '/fresh?x=1');
  assert.equal(second.status, 200);
  assert.equal(second.headers['x-qproxy-record-id'], stored[0]!.id);
  assert.equal(backend.seen.length, 1, 'served from the new recording, not forwarded again');
  assert.deepEqual(stub.status(), { recordings: 1, hits: 1, misses: 0, forwarded: 1 });
});

test('forward on miss follows recording.exclude: an excluded miss is answered but not recorded', async (t) => {
  const { store } = await openStore(t);
  const backend = await startBackend(t, (req, _b, res) => json(res, 200, { url: req.url }));
  const skipped: string[] = [];
  const selector = RecordingSelector.create({
    include: [],
    exclude: [{ paths: ['/private/**'] }],
    sample: { rate: 1, key: null },
    observer: { skipped: (protocol, reason) => skipped.push(`${protocol} ${reason}`) },
  });
  const recorder = new HttpRecorder({ enabled: true, nodeId: 'az-b-1', maxBody: 1024, redactor: null, selector, sink: store });
  const forwarder = new Forwarder({ origins: [backend.origin], tls: { rejectUnauthorized: true }, timeoutMs: 2_000, maxResponseBytes: 1024 * 1024, recorder });
  const { port } = await startStub(t, store, { forwarder });

  assert.equal((await send(port, 'GET', '/private/me')).status, 200);
  assert.equal((await send(port, 'GET', '/public')).status, 200);
  await store.flush();
  assert.deepEqual(store.list({ limit: 10 }).records.map((r) => r.url), ['/public']);
  assert.deepEqual(skipped, ['http excluded']);
  assert.equal(backend.seen.length, 2, 'both were forwarded');
});
