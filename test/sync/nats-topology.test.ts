/**
 * Several Playback nodes on one stream: a group sharing one durable splits the records between its
 * members; zone A / zone B, where B's stream mirrors A's across a leafnode link; and two zone A
 * sites whose streams B's stream sources.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { SyncMetrics } from '../../src/metrics/sync-metrics.js';
import { startNatsServer, startSites, startZones } from '../helpers/nats-server.js';
import { allRecords, fill, httpRecord, openStore, tempDir, waitFor } from './helpers.js';
import { NatsConsumer } from '../../src/sync/nats/consumer.js';
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
  // The link is read from the server every few seconds: the first reading may predate the catch-up.
  await waitFor(() => consumer.status().upstream[0]?.lag_messages === 0, () => `the mirror reported caught up (${JSON.stringify(consumer.status().upstream)})`, 30_000);
  const [link] = consumer.status().upstream;
  assert.equal(consumer.status().upstream.length, 1);
  assert.deepEqual([link!.kind, link!.stream, link!.domain, link!.lag_messages], ['mirror', 'QPROXY', 'A', 0]);
});

test('two zone A sites → zone B: B\'s stream sources both; a site added to nats.sources later is added to the stream', async (t) => {
  const { a1, a2, b: zoneB } = await startSites(t);
  const dir = await tempDir(t);
  const site1 = await openStore(t, join(dir, 'a1.db'));
  const site2 = await openStore(t, join(dir, 'a2.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const one = Array.from({ length: 60 }, (_, i) => ({ ...httpRecord(i), node_id: 'site-1' }));
  const two = Array.from({ length: 60 }, (_, i) => ({ ...httpRecord(100 + i), node_id: 'site-2' }));
  // Larger than max_payload: its parts travel through the source like any message and are read from B's stream.
  const big = { ...httpRecord(500), node_id: 'site-2' };
  const body = randomBytes(1536 * 1024);
  two.push({ ...big, response: { ...big.response!, body: { data: body, size: body.byteLength, truncated: false } } });
  await fill(site1, one);
  await fill(site2, two);
  await startPublisher(t, publisherOptions(site1, a1.url, { nodeId: 'site-1' }));
  await startPublisher(t, publisherOptions(site2, a2.url, { nodeId: 'site-2' }));

  // First only site 1 is configured.
  const first = new NatsConsumer(consumerOptions(b, zoneB.url, { stream: plan({ sources: [{ stream: 'QPROXY', domain: 'A1' }] }) }));
  t.after(() => first.close(500));
  await first.start();
  await waitFor(() => b.stats().count === 60, () => `site 1's 60 records in zone B (have ${b.stats().count}; ${JSON.stringify(first.status().last_error)})`, 30_000);
  await first.close(1000);
  assert.equal(allRecords(b).size, 60);

  // Site 2 is added to the config: the stream gains the source and B gets site 2's records too.
  const registry = new Registry();
  const consumer = await startConsumer(
    t,
    consumerOptions(b, zoneB.url, {
      stream: plan({ sources: [{ stream: 'QPROXY', domain: 'A1' }, { stream: 'QPROXY', domain: 'A2' }] }),
      observer: new SyncMetrics(registry),
    }),
  );
  await waitFor(() => b.stats().count === 121, () => `121 records in zone B (have ${b.stats().count}; ${JSON.stringify(consumer.status().last_error)})`, 30_000);
  for (const [store, records] of [[site1, one], [site2, two]] as const) {
    for (const r of records) assert.ok(recordJson(b.get(r.id)) === recordJson(store.get(r.id)), `record ${r.id} intact in zone B`);
  }
  assert.equal(consumer.status().received.malformed, 0);
  // The link to each site is reported (status and metrics); cutting one shows on that one only.
  const byDomain = () => new Map(consumer.status().upstream.map((l) => [l.domain, l]));
  // Read from the server every few seconds: wait for a reading taken after both caught up.
  const caughtUp = (): boolean => consumer.status().upstream.length === 2 && [...byDomain().values()].every((l) => l.lag_messages === 0 && l.error === null);
  await waitFor(caughtUp, () => `both sources reported caught up (${JSON.stringify(consumer.status().upstream)})`, 30_000);
  assert.deepEqual(
    [...byDomain().values()].map((l) => [l.kind, l.stream, l.domain, l.lag_messages, l.error]).sort(),
    [
      ['source', 'QPROXY', 'A1', 0, null],
      ['source', 'QPROXY', 'A2', 0, null],
    ],
  );
  assert.match(await registry.metrics(), /qproxy_sync_upstream_lag_messages\{stream="QPROXY",domain="A2"\} 0/);
  await a2.kill();
  // Both in one reading: A1's heartbeats may come late on a loaded machine, A2's never again.
  const cutShows = (): boolean => (byDomain().get('A2')?.last_active_ms ?? 0) >= 3000 && (byDomain().get('A1')?.last_active_ms ?? Infinity) < 3000;
  await waitFor(cutShows, () => `the cut link to A2 shows, the one to A1 stays live (${JSON.stringify(consumer.status().upstream)})`, 30_000);
  assert.match(await registry.metrics(), /qproxy_sync_upstream_last_active_seconds\{stream="QPROXY",domain="A2"\} (?:[3-9]|\d{2,})/);
});

test('a stream with sources refuses Record nodes, and one missing a configured source is a clear conflict when QProxy may not change it', async (t) => {
  const { b: zoneB } = await startSites(t);
  const dir = await tempDir(t);
  const b = await openStore(t, join(dir, 'b.db'));
  const sourced = plan({ sources: [{ stream: 'QPROXY', domain: 'A1' }] });
  const consumer = await startConsumer(t, consumerOptions(b, zoneB.url, { stream: sourced }));
  await waitFor(() => consumer.connected, 'the consumer set up the sourced stream');

  const rec = await openStore(t, join(dir, 'r.db'));
  const wrongPlace = await startPublisher(t, publisherOptions(rec, zoneB.url));
  await waitFor(() => wrongPlace.status().last_error !== null, 'the publisher reports the problem');
  assert.equal(wrongPlace.status().last_error?.code, 'QP_ERR_NATS_STREAM_CONFLICT');
  assert.match(wrongPlace.status().last_error!.message, /gathers other streams \(sources\) and takes no publishes of its own/);

  const other = await openStore(t, join(dir, 'b2.db'));
  const strict = plan({ create: false, sources: [{ stream: 'QPROXY', domain: 'A1' }, { stream: 'QPROXY', domain: 'A2' }] });
  const checker = await startConsumer(t, consumerOptions(other, zoneB.url, { stream: strict, durable: 'other', nodeId: 'az-b-2' }));
  await waitFor(() => checker.status().last_error !== null, 'the consumer reports the problem');
  assert.equal(checker.status().last_error?.code, 'QP_ERR_NATS_STREAM_CONFLICT');
  assert.match(checker.status().last_error!.message, /does not source "QPROXY" in domain "A2" \(nats\.sources\)/);
});
