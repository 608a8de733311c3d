import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpRecord } from '../../src/recording/model.js';
import type { Store } from '../../src/store/index.js';
import { makeRecord, openStore } from './helpers.js';

const T0 = 1_700_000_000_000;

/** 12 records: 8 one second apart, then 4 sharing one started_at (ties are ordered by seq). */
async function seed(store: Store): Promise<HttpRecord[]> {
  const records: HttpRecord[] = [];
  for (let i = 0; i < 8; i++) records.push(makeRecord({ started_at: T0 + i * 1000 }));
  for (let i = 0; i < 4; i++) records.push(makeRecord({ started_at: T0 + 3500 }));
  for (const r of records) store.offer(r);
  await store.flush();
  return records;
}

/** Newest first: started_at desc, then insertion order (seq) desc. */
function expectedOrder(records: HttpRecord[]): string[] {
  return records
    .map((r, seq) => ({ r, seq }))
    .sort((a, b) => b.r.started_at - a.r.started_at || b.seq - a.seq)
    .map(({ r }) => r.id);
}

function pageAll(store: Store, q: { limit: number; start?: number; end?: number }): { ids: string[]; pages: number } {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = store.list({ ...q, ...(cursor !== undefined && { cursor }) });
    pages++;
    ids.push(...page.records.map((r) => r.id));
    if (page.next === null) return { ids, pages };
    assert.ok(pages < 50, 'paging does not end');
    cursor = page.next;
  }
}

test('list pages newest first across ties, without gaps or duplicates', async (t) => {
  const { store } = await openStore(t);
  const records = await seed(store);
  const { ids, pages } = pageAll(store, { limit: 5 });
  assert.deepEqual(ids, expectedOrder(records));
  assert.equal(pages, 3);
  assert.equal(new Set(ids).size, ids.length);

  // Page size 1 walks through the block of equal started_at one record at a time.
  assert.deepEqual(pageAll(store, { limit: 1 }).ids, expectedOrder(records));
  // An exact multiple of the page size ends with next = null, not with an empty page.
  const exact = store.list({ limit: 12 });
  assert.equal(exact.records.length, 12);
  assert.equal(exact.next, null);
});

test('list summaries carry the SPEC fields', async (t) => {
  const { store } = await openStore(t);
  const r = makeRecord({ started_at: T0, client: { address: '::1', port: 5000 } });
  store.offer(r);
  await store.flush();
  const [item] = store.list({ limit: 10 }).records;
  assert.deepEqual(item, {
    id: r.id,
    protocol: 'http',
    node_id: 'az-a-1',
    started_at: new Date(T0).toISOString(),
    duration_ms: 12.345,
    size_bytes: item?.size_bytes,
    method: 'POST',
    url: '/orders?id=7',
    status: 201,
    client: '[::1]:5000',
    downstream: 'http://127.0.0.1:8081',
    bytes_in: 5,
    bytes_out: 2,
    error: null,
  });
  assert.ok((item?.size_bytes ?? 0) > 7);
});

test('list filters by time range (start inclusive, end exclusive) and protocol', async (t) => {
  const { store } = await openStore(t);
  const records = await seed(store);
  const inRange = records.filter((r) => r.started_at >= T0 + 2000 && r.started_at < T0 + 6000);
  const { ids } = pageAll(store, { limit: 2, start: T0 + 2000, end: T0 + 6000 });
  assert.deepEqual(ids, expectedOrder(inRange));
  assert.equal(ids.length, 8);

  assert.deepEqual(store.list({ limit: 100, start: T0 + 7000 }).records.map((r) => r.id), [records[7]!.id]);
  assert.deepEqual(store.list({ limit: 100, end: T0 + 1 }).records.map((r) => r.id), [records[0]!.id]);
  assert.equal(store.list({ limit: 100, protocol: 'http' }).records.length, 12);
  assert.deepEqual(store.list({ limit: 100, protocol: 'tcp' }), { records: [], next: null });
});

test('records arriving between pages cause neither gaps nor duplicates', async (t) => {
  const { store } = await openStore(t);
  const records = await seed(store);
  const first = store.list({ limit: 4 });
  // One lands above the pages already read (not seen in this walk), one in the unread part (seen once).
  const above = makeRecord({ started_at: T0 + 100_000 });
  const below = makeRecord({ started_at: T0 + 3500 });
  store.offer(above);
  store.offer(below);
  await store.flush();
  const ids = first.records.map((r) => r.id);
  let cursor = first.next;
  while (cursor) {
    const page = store.list({ limit: 4, cursor });
    ids.push(...page.records.map((r) => r.id));
    cursor = page.next;
  }
  assert.deepEqual(ids, expectedOrder([...records, below]));
  assert.ok(!ids.includes(above.id));
});

test('a malformed cursor is refused with QP_ERR_BAD_CURSOR', async (t) => {
  const { store } = await openStore(t);
  await seed(store);
  const good = store.list({ limit: 2 }).next;
  assert.ok(good);
  const bad = [
    'not-a-cursor',
    '',
    Buffer.from('abc:1').toString('base64url'),
    Buffer.from('1700000000000').toString('base64url'),
    Buffer.from('01700000000000:3').toString('base64url'),
    `${good}!`,
    `${good}AA`,
  ];
  for (const cursor of bad) {
    assert.throws(() => store.list({ limit: 2, cursor }), { code: 'QP_ERR_BAD_CURSOR' }, cursor);
  }
  assert.throws(() => store.list({ limit: 2, cursor: 'x' }), /pass the "next" value/);
  assert.equal(store.list({ limit: 2, cursor: good }).records.length, 2);
});

test('a limit that is not a positive integer is refused', async (t) => {
  const { store } = await openStore(t);
  for (const limit of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => store.list({ limit }), { code: 'QP_ERR_BAD_QUERY' });
  }
  assert.throws(() => store.list({ limit: 1, start: Number.NaN }), { code: 'QP_ERR_BAD_QUERY' });
});
