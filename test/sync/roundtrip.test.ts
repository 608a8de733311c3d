/**
 * A sender and a receiver in one process, real stores on disk, real HTTP/2 (h2c here; TLS in
 * tls.test.ts): what arrives is exactly what was recorded, and both sides account for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, syncMetrics, tempDir, waitFor } from './helpers.js';

test('records arrive identical (headers, binary and chunked bodies), once, and both ledgers agree', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const records = Array.from({ length: 420 }, (_, i) => httpRecord(i));
  // A body over the store's 256 KiB chunk size, and an exchange without a response.
  const big = randomBytes(700 * 1024);
  records.push(httpRecord(1000, { response: { ...httpRecord(1000).response!, body: { data: big, size: big.byteLength, truncated: false } } }));
  records.push(httpRecord(1001, { response: null, status: 502, error: { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'refused' } }));
  await fill(a, records);

  const rx = syncMetrics();
  const { receiver, port } = await startReceiver(t, { store: b, observer: rx.metrics });
  const tx = syncMetrics();
  const sender = await startSender(t, senderOptions(a, port, { observer: tx.metrics }));

  await waitFor(() => b.stats().count === records.length && sender.status().pending.records === 0, () => `all records on the receiver (has ${b.stats().count})`);
  const got = allRecords(b);
  assert.equal(got.size, records.length);
  for (const r of records) assert.deepEqual(got.get(r.id), a.get(r.id), `record ${r.id} differs`);

  const s = sender.status();
  assert.equal(s.connected, true);
  assert.equal(s.cursor, a.stats().lastSeq);
  assert.equal(s.ledger.sent, records.length);
  assert.equal(s.ledger.refused_by_peer, 0);
  assert.ok(s.sent.wire_bytes < s.sent.raw_bytes, 'batches are compressed on the wire');
  const r = receiver.status();
  assert.equal(r.ledger['az-a-1']?.stored, records.length);
  assert.equal(r.ledger['az-a-1']?.duplicates, 0);
  assert.equal(r.ledger['az-a-1']?.last_seq, a.stats().lastSeq);
  assert.equal(r.peers['az-a-1']?.connected, true);

  const text = await rx.registry.metrics();
  assert.match(text, new RegExp(`qproxy_sync_records_total\\{role="receiver",outcome="stored"\\} ${records.length}`));
  assert.match(await tx.registry.metrics(), new RegExp(`qproxy_sync_records_total\\{role="sender",outcome="sent"\\} ${records.length}`));
  assert.match(text, /qproxy_sync_lag_seconds_count\{role="receiver"\} \d+/);
});

test('records recorded while sync runs follow within a poll, and the cursor is saved', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port));
  await waitFor(() => sender.connected, 'the sender to connect');
  for (let round = 0; round < 5; round++) {
    await fill(a, Array.from({ length: 30 }, (_, i) => httpRecord(round * 100 + i)));
    await waitFor(() => b.stats().count === (round + 1) * 30, `round ${round} on the receiver`);
  }
  await waitFor(() => sender.durableCursor === a.stats().lastSeq, 'the cursor to be saved');
  assert.equal((JSON.parse(a.getMeta('sync.sender') ?? '{}') as { cursor?: number }).cursor, a.stats().lastSeq);
});

test('a duplicate batch (already stored ids) is acknowledged and counted as duplicates, nothing stored twice', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const records = Array.from({ length: 50 }, (_, i) => httpRecord(i));
  await fill(a, records);
  await fill(b, records.slice(0, 20));
  const { receiver, port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port));
  await waitFor(() => sender.status().pending.records === 0, 'everything acknowledged');
  assert.equal(b.stats().count, 50);
  assert.equal(receiver.status().ledger['az-a-1']?.stored, 30);
  assert.equal(receiver.status().ledger['az-a-1']?.duplicates, 20);
});
