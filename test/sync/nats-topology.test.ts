/**
 * Several Playback nodes on one stream: a group sharing one durable splits the records between its
 * members; and zone A / zone B, where B's stream mirrors A's across a leafnode link.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { startNatsServer, startZones } from '../helpers/nats-server.js';
import { allRecords, fill, httpRecord, openStore, tempDir, waitFor } from './helpers.js';
import { consumerOptions, plan, publisherOptions, recordJson, startConsumer, startPublisher } from './nats-helpers.js';

test('a two-member group splits the records: no overlap, no gap', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b1 = await openStore(t, join(dir, 'b1.db'));
  const b2 = await openStore(t, join(dir, 'b2.db'));
  const group = { durable: 'replayers', group: 'replayers', batch: 8 };
  const m1 = await startConsumer(t, consumerOptions(b1, nats.url, { ...group, nodeId: 'b1' }));
  const m2 = await startConsumer(t, consumerOptions(b2, nats.url, { ...group, nodeId: 'b2' }));
  await waitFor(() => m1.connected && m2.connected, 'both members connected');
  const records = Array.from({ length: 400 }, (_, i) => httpRecord(i));
  await startPublisher(t, publisherOptions(a, nats.url));
  // In waves, so both members have pull requests waiting while records arrive.
  for (let i = 0; i < 400; i += 50) {
    await fill(a, records.slice(i, i + 50));
    await waitFor(() => b1.stats().count + b2.stats().count >= i + 50, `wave ${i / 50 + 1} stored`);
  }
  const one = allRecords(b1);
  const two = allRecords(b2);
  for (const id of one.keys()) assert.ok(!two.has(id), `record ${id} is on one member only`);
  assert.equal(one.size + two.size, 400, 'every record is on a member');
  assert.ok(one.size > 0 && two.size > 0, `both members took a share (${one.size} / ${two.size})`);
  assert.equal(m1.status().group, 'replayers');
});

test('zone A → zone B: Record publishes in A, B mirrors the stream over a leafnode, Playback consumes in B', async (t) => {
  const { a: zoneA, b: zoneB } = await startZones(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const records = Array.from({ length: 100 }, (_, i) => httpRecord(i));
  // Larger than the default max_payload (1 MiB): its parts are read from B's mirror by subject.
  const big = httpRecord(500);
  const body = randomBytes(1536 * 1024);
  records.push({ ...big, response: { ...big.response!, body: { data: body, size: body.byteLength, truncated: false } } });
  await fill(a, records);
  await startPublisher(t, publisherOptions(a, zoneA.url));
  const consumer = await startConsumer(t, consumerOptions(b, zoneB.url, { stream: plan({ mirror: { stream: 'QPROXY', domain: 'A' } }) }));
  await waitFor(() => b.stats().count === 101, () => `101 records in zone B (have ${b.stats().count}; ${JSON.stringify(consumer.status().last_error)})`, 30_000);
  for (const r of records) assert.ok(recordJson(b.get(r.id)) === recordJson(a.get(r.id)), `record ${r.id} intact in zone B`);
  assert.equal(consumer.status().stream, 'QPROXY');
});
