/**
 * GET /api/records filters (method, status, q) on top of the store's pages: matches, paging with
 * the store's cursor, the bounded scan, parameter errors, and a record's HAR.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HttpRecord, RecordSummary } from '../../src/recording/model.js';
import { MemoryRecords, call, makeRecord, startApi } from './api-helpers.js';

const T0 = Date.parse('2024-05-01T00:00:00Z');

function record(i: number, method: string, url: string, status: number): HttpRecord {
  const r = makeRecord(T0 + i * 1000);
  return { ...r, request: { ...r.request, method, url }, status, response: r.response && { ...r.response, status } };
}

/** 100 records: every 10th a POST /orders/N answered 500, the rest GET /items/N answered 200 (404 for 7, 17, …). */
function records(): HttpRecord[] {
  return Array.from({ length: 100 }, (_, i) =>
    i % 10 === 0 ? record(i, 'POST', `/orders/${i}`, 500) : record(i, 'GET', `/items/${i}`, i % 10 === 7 ? 404 : 200),
  );
}

type Page = { records: RecordSummary[]; next: string | null };

describe('GET /api/records filters', () => {
  test('method, status classes and codes, and text search select records, newest first', async (t) => {
    const { port } = await startApi(t, { records: new MemoryRecords(records()) });
    const list = async (q: string): Promise<Page> => {
      const res = await call(port, 'GET', `/api/records?limit=1000&${q}`);
      assert.equal(res.status, 200, `${q}: ${res.text}`);
      return res.json() as unknown as Page;
    };
    const posts = await list('method=post');
    assert.equal(posts.records.length, 10);
    assert.ok(posts.records.every((r) => r.method === 'POST'));
    assert.deepEqual(posts.records.slice(0, 2).map((r) => r.url), ['/orders/90', '/orders/80']);
    assert.equal((await list('status=5xx')).records.length, 10);
    assert.equal((await list('status=404')).records.length, 10);
    assert.equal((await list('status=4xx,5xx')).records.length, 20);
    assert.equal((await list('method=GET&status=2xx')).records.length, 80);
    assert.deepEqual((await list('q=ORDERS/5')).records.map((r) => r.url), ['/orders/50']);
    assert.equal((await list('status=none')).records.length, 0);
    assert.equal((await list('q=%20%20')).records.length, 100, 'a blank search is no filter');
  });

  test('a filtered page stops at limit with the cursor right after its last record; pages do not overlap', async (t) => {
    const { port } = await startApi(t, { records: new MemoryRecords(records()) });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const res = await call(port, 'GET', `/api/records?method=GET&status=404&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      const page = res.json() as unknown as Page;
      assert.ok(page.records.length <= 3);
      seen.push(...page.records.map((r) => r.url!));
      cursor = page.next;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, ['/items/97', '/items/87', '/items/77', '/items/67', '/items/57', '/items/47', '/items/37', '/items/27', '/items/17', '/items/7']);
  });

  test('a sparse filter returns what a bounded scan found, with next pointing on', async (t) => {
    // 1500 records, the one match the oldest: a page reads at most 100 store pages (here 10 records each).
    const many = Array.from({ length: 1500 }, (_, i) => record(i, 'GET', i === 0 ? '/needle' : `/hay/${i}`, 200));
    const memory = new MemoryRecords(many);
    const { port } = await startApi(t, { records: memory });
    const first = (await call(port, 'GET', '/api/records?q=needle&limit=10')).json() as unknown as Page;
    assert.equal(first.records.length, 0);
    assert.notEqual(first.next, null, 'more to scan');
    assert.equal(memory.queries.length, 100, 'at most 100 store pages per call');
    const second = (await call(port, 'GET', `/api/records?q=needle&limit=10&cursor=${first.next}`)).json() as unknown as Page;
    assert.deepEqual(second.records.map((r) => r.url), ['/needle']);
    assert.equal(second.next, null);
  });

  test('bad filters are 400s naming the parameter', async (t) => {
    const { port } = await startApi(t);
    for (const [q, message] of [
      ['status=600', /status must be codes or classes/],
      ['status=', /status is empty/],
      ['method=GE%20T', /method must be HTTP methods/],
      ['method=GET&method=POST', /given more than once/],
      [`q=${'x'.repeat(300)}`, /q is longer than 256/],
    ] as const) {
      const res = await call(port, 'GET', `/api/records?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(res.json().code, 'QP_ERR_API_BAD_PARAM');
      assert.match(String(res.json().error), message);
    }
  });

  test('GET /api/records/{id}?format=har is that one exchange as HAR', async (t) => {
    const r = record(1, 'GET', '/items/1', 200);
    const { port } = await startApi(t, { records: new MemoryRecords([r]), version: '9.9.9' });
    const res = await call(port, 'GET', `/api/records/${r.id}?format=har`);
    assert.equal(res.status, 200);
    const har = res.json() as { log: { creator: { version: string }; entries: Array<{ request: { url: string } }> } };
    assert.equal(har.log.creator.version, '9.9.9');
    assert.equal(har.log.entries.length, 1);
    assert.match(har.log.entries[0]!.request.url, /\/items\/1$/);
    assert.equal((await call(port, 'GET', `/api/records/${r.id}?format=xml`)).status, 400);
    assert.equal((await call(port, 'GET', `/api/records/${r.id}?fmt=har`)).status, 400);
  });
});
