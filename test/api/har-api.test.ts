import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { HAR_MAX_BODY_BYTES } from '../../src/api/har-routes.js';
import type { HarDocument } from '../../src/har/har-types.js';
import { RECORD_FORMAT_VERSION, type TcpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import type { Store } from '../../src/store/index.js';
import { openStore } from '../playback/helpers.js';
import { fixtureText } from '../har/har-helpers.js';
import { call, makeRecord, memoryLogger, post, startApi } from './api-helpers.js';

const T0 = Date.parse('2024-05-01T00:00:00Z');

function tcpRecord(startedAt: number): TcpRecord {
  return {
    v: RECORD_FORMAT_VERSION,
    id: uuidv7(startedAt),
    protocol: 'tcp',
    node_id: 'az-a-1',
    started_at: startedAt,
    duration_ms: 5,
    client: { address: '127.0.0.1', port: 40000 },
    tls: null,
    downstream: '127.0.0.1:6379',
    downstream_tls: false,
    bytes_in: 4,
    bytes_out: 5,
    chunks: [{ dir: 'c2s', t_us: 10, data: Buffer.from('PING') }],
    truncated: false,
    state: 'closed',
    close_reason: 'client_close',
    error: null,
    redacted: [],
  };
}

async function playbackApi(t: TestContext, withImporter = true): Promise<{ port: number; store: Store; audit: () => Record<string, unknown>[] }> {
  const { store } = await openStore(t);
  const log = memoryLogger();
  const { port } = await startApi(t, { records: store, version: '1.4.2', logger: log.logger, ...(withImporter && { importer: store }) });
  return { port, store, audit: () => log.lines().filter((l) => l.action === 'records.import') };
}

describe('GET /api/records?format=har', () => {
  test('pages like the JSON list (newest first, same cursor) with _next; HTTP only; entries ascending within a page', async (t) => {
    const { port, store } = await playbackApi(t);
    const http = Array.from({ length: 5 }, (_, i) => makeRecord(T0 + i * 1000));
    await store.ingest([...http, tcpRecord(T0 + 4500)]);
    const pages: HarDocument[] = [];
    let cursor: string | null | undefined;
    do {
      const res = await call(port, 'GET', `/api/records?format=har&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const doc = JSON.parse(res.text) as HarDocument;
      pages.push(doc);
      cursor = doc.log._next;
    } while (cursor && pages.length < 10);
    assert.deepEqual(pages.map((p) => p.log.entries.length), [2, 2, 1]);
    assert.equal(pages[2]!.log._next, null);
    assert.deepEqual(pages[0]!.log.creator, { name: 'QProxy', version: '1.4.2' });
    assert.equal(pages[0]!.log.version, '1.2');
    const ids = pages.map((p) => p.log.entries.map((e) => e._qproxy.id));
    assert.deepEqual(ids, [[http[3]!.id, http[4]!.id], [http[1]!.id, http[2]!.id], [http[0]!.id]]);
    const json = (await call(port, 'GET', '/api/records?limit=2&protocol=http')).json() as { records: Array<{ id: string }> };
    assert.deepEqual(json.records.map((r) => r.id), [http[4]!.id, http[3]!.id], 'the same page as the JSON list');
    const entry = pages[2]!.log.entries[0]!;
    assert.equal(entry.request.url, 'http://shop.local/orders?id=7');
    assert.equal(entry.response.content.text, '{"ok":true}');
  });

  test('filters apply; a TCP protocol, another format or an unknown parameter is a 400 naming it', async (t) => {
    const { port, store } = await playbackApi(t);
    await store.ingest([makeRecord(T0), makeRecord(T0 + 60_000)]);
    const later = JSON.parse((await call(port, 'GET', '/api/records?format=har&start=2024-05-01T00:00:30Z')).text) as HarDocument;
    assert.equal(later.log.entries.length, 1);
    // The list's filters apply to HAR pages too.
    const posts = JSON.parse((await call(port, 'GET', '/api/records?format=har&method=POST&q=orders')).text) as HarDocument;
    assert.equal(posts.log.entries.length, 2);
    const gets = JSON.parse((await call(port, 'GET', '/api/records?format=har&method=GET')).text) as HarDocument;
    assert.equal(gets.log.entries.length, 0);
    for (const [query, message] of [
      ['format=har&protocol=tcp', /HTTP records only/],
      ['format=xml', /format must be "har", got "xml"/],
      ['format=har&format=har', /format is given more than once/],
      ['format=har&verb=GET', /unknown query parameter "verb"/],
    ] as const) {
      const res = await call(port, 'GET', `/api/records?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.json().code, 'QP_ERR_API_BAD_PARAM');
      assert.match(String(res.json().error), message);
    }
  });
});

describe('POST /api/records?format=har', () => {
  test('imports (201 with counts and ids in entry order); a re-import skips everything; the import is audit-logged', async (t) => {
    const { port, store, audit } = await playbackApi(t);
    const har = fixtureText('chrome.har');
    const first = await post(port, '/api/records?format=har&node_id=browser-ann', har);
    assert.equal(first.status, 201);
    const body = first.json() as { imported: number; skipped: number; ids: string[] };
    assert.equal(body.imported, 3);
    assert.equal(body.skipped, 0);
    assert.equal(body.ids.length, 3);
    const stored = store.get(body.ids[1]!);
    assert.equal(stored?.protocol === 'http' && stored.request.url, '/api/orders');
    assert.equal(stored?.node_id, 'browser-ann');
    const fetched = await call(port, 'GET', `/api/records/${body.ids[0]!}`);
    assert.equal(fetched.status, 200);

    const again = await post(port, '/api/records?format=har', har);
    assert.equal(again.status, 201);
    assert.deepEqual(again.json(), { imported: 0, skipped: 3, ids: body.ids });
    assert.equal(store.stats().count, 3);
    const lines = audit();
    assert.equal(lines.length, 2);
    assert.deepEqual(
      [lines[0]!.imported, lines[0]!.skipped, lines[0]!.node_id, lines[1]!.imported, lines[1]!.skipped],
      [3, 0, 'browser-ann', 0, 3],
    );
  });

  test('a Record node answers 409 and stores nothing', async (t) => {
    const { port, store } = await playbackApi(t, false);
    const res = await post(port, '/api/records?format=har', fixtureText('firefox.har'));
    assert.equal(res.status, 409);
    assert.equal(res.json().code, 'QP_ERR_API_IMPORT_NOT_ALLOWED');
    assert.match(String(res.json().error), /import the HAR on a Playback node/);
    assert.equal(store.stats().count, 0);
  });

  test('garbage, an invalid HAR, a missing format or a bad node_id is a 400 saying what is wrong', async (t) => {
    const { port, store } = await playbackApi(t);
    const garbage = await post(port, '/api/records?format=har', 'GIF89a…');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.json().code, 'QP_ERR_HAR_INVALID');
    assert.match(String(garbage.json().error), /not JSON/);

    const doc = JSON.parse(fixtureText('firefox.har')) as { log: { entries: Array<{ request: { url: string } }> } };
    doc.log.entries[1]!.request.url = 'app.css';
    const invalid = await post(port, '/api/records?format=har', JSON.stringify(doc));
    assert.equal(invalid.status, 400);
    assert.deepEqual(invalid.json(), {
      error: 'log.entries[1].request.url: expected an absolute http(s) URL, got "app.css"',
      code: 'QP_ERR_HAR_INVALID',
    });

    const noFormat = await post(port, '/api/records', fixtureText('firefox.har'));
    assert.equal(noFormat.status, 400);
    assert.match(String(noFormat.json().error), /add \?format=har/);
    const badNode = await post(port, '/api/records?format=har&node_id=a%20b', fixtureText('firefox.har'));
    assert.equal(badNode.status, 400);
    assert.match(String(badNode.json().error), /node_id must be/);
    assert.equal(store.stats().count, 0, 'nothing of a refused document is stored');
  });

  test('a body over the cap is refused with 413 before it is read', async (t) => {
    const { port } = await playbackApi(t);
    const socket = connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    socket.write(
      `POST /api/records?format=har HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${HAR_MAX_BODY_BYTES + 1}\r\n\r\n{"log":`,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const answer = Buffer.concat(chunks).toString();
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"QP_ERR_API_BODY_NOT_ALLOWED"/);
    assert.match(answer, new RegExp(`larger than ${HAR_MAX_BODY_BYTES} bytes`));
  });
});
