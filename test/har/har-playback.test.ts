import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test, type TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { HttpStubServer } from '../../src/playback/serve/http-stub-server.js';
import type { Store } from '../../src/store/index.js';
import { defer, finished, openEngine, openStore, params, startBackend, stubOptions, type Doc } from '../playback/helpers.js';
import { importFixture } from './har-helpers.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function importInto(store: Store, fixture: string): Promise<void> {
  const result = await store.ingest(importFixture(fixture));
  assert.equal(result.skipped, 0);
}

async function startStub(t: TestContext, store: Store): Promise<number> {
  const stub = new HttpStubServer(stubOptions(store));
  defer(t, () => stub.close(500));
  return (await stub.listen()).port;
}

test('imported browser traffic is served by the serve-mode matcher like recorded traffic', async (t) => {
  const { store } = await openStore(t);
  await importInto(store, 'chrome.har');
  const port = await startStub(t, store);

  const items = await send(port, 'GET', '/api/items?sort=price&page=2');
  assert.equal(items.status, 200);
  assert.equal(items.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(items.body).toString(), '{"items":[{"id":7,"price":12}],"page":2}');

  const order = await send(port, 'POST', '/api/orders', '{"qty":2,"item":7}', { 'content-type': 'application/json' });
  assert.equal(order.status, 201);
  assert.equal(order.headers.location, '/api/orders/55');
  assert.equal(order.body.toString(), '{"id":55}\n');

  const beacon = await send(port, 'GET', '/beacon');
  assert.equal(beacon.status, 502, 'a request that failed in the browser is served as a failure');
  assert.match(beacon.body.toString(), /QP_ERR_HAR_NO_RESPONSE: net::ERR_CONNECTION_REFUSED/);
});

test('imported traffic replays against zone B and compares as recorded traffic does', async (t) => {
  const { store, path } = await openStore(t);
  await importInto(store, 'mitmproxy.har');
  const png = Buffer.from('iVBORw0KGgoAAAAN', 'base64');
  const zoneB = await startBackend(t, (req, _body, res) => {
    if (req.url === '/v1/login') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"user":"ann","roles":["admin"]}');
    } else {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    }
  });
  const engine = await openEngine(t, store, path, [zoneB.origin]);
  const doc = await finished(engine, (engine.manager.createResolved(params()) as Doc).id);
  assert.equal(doc.state, 'done');
  assert.deepEqual(doc.summary.counts, { match: 2, mismatch: 0, failed: 0, skipped: 0, dry_run: 0, missing: 0 });
  const login = zoneB.seen.find((s) => s.url === '/v1/login');
  assert.equal(login?.method, 'POST');
  assert.equal(login?.body.toString(), '{"user":"ann","roles":["admin"]}');
  assert.equal(login?.headers['content-type'], 'application/json');
  assert.ok(zoneB.seen.some((s) => s.url === '/logo.png'));
});
