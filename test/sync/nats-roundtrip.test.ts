/**
 * NATS JetStream sync end to end in one process: Record-side publishers read their stores' feeds
 * and publish to a real nats-server; a Playback-side consumer stores what it pulls.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startNatsServer } from '../helpers/nats-server.js';
import { allRecords, fill, httpRecord, openStore, tcpSegment, tempDir, waitFor } from './helpers.js';
import { consumerOptions, publisherOptions, recordJson, startConsumer, startPublisher } from './nats-helpers.js';
import { uuidv7 } from '../../src/core/uuidv7.js';

test('records from two Record nodes reach the Playback node intact, once each', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a1 = await openStore(t, join(dir, 'a1.db'));
  const a2 = await openStore(t, join(dir, 'a2.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const fromA1 = Array.from({ length: 150 }, (_, i) => httpRecord(i, { node_id: 'az-a-1' }));
  // Node ids with characters a subject token cannot hold still get their own subject.
  const fromA2 = Array.from({ length: 150 }, (_, i) => httpRecord(1000 + i, { node_id: 'az-a.2*x' }));
  await fill(a1, fromA1);
  await fill(a2, fromA2);
  const p1 = await startPublisher(t, publisherOptions(a1, nats.url, { nodeId: 'az-a-1' }));
  const p2 = await startPublisher(t, publisherOptions(a2, nats.url, { nodeId: 'az-a.2*x' }));
  const consumer = await startConsumer(t, consumerOptions(b, nats.url));
  await waitFor(() => b.stats().count === 300, () => `300 records in B (have ${b.stats().count})`);
  await waitFor(() => p1.durableCursor === a1.stats().lastSeq && p2.durableCursor === a2.stats().lastSeq, 'both cursors at the end of their feeds');
  // The consumer counts a message once its store write has resolved, a moment after the commit
  // that made it visible in b.stats(): wait for the counters themselves.
  const counted = (): boolean => {
    const c = consumer.status();
    return c.received.stored === 300 && c.ledger['az-a-1']?.stored === 150 && c.ledger['az-a.2*x']?.stored === 150;
  };
  await waitFor(counted, () => `the consumer's counters at 300 (have ${JSON.stringify(consumer.status().received)})`);
  const got = allRecords(b);
  for (const r of [...fromA1, ...fromA2]) {
    const stored = b.get(r.id);
    assert.ok(stored, `record ${r.id} reached B`);
    assert.ok(recordJson(stored) === recordJson(a1.get(r.id) ?? a2.get(r.id)), `record ${r.id} is byte-identical`);
  }
  assert.equal(got.size, 300);
  const st = consumer.status();
  assert.equal(st.backend, 'nats');
  assert.equal(st.connected, true);
  assert.equal(st.received.stored, 300);
  assert.equal(st.ledger['az-a-1']?.stored, 150);
  assert.equal(st.ledger['az-a.2*x']?.stored, 150);
  const ps = p1.status();
  assert.equal(ps.backend, 'nats');
  assert.equal(ps.pending.records, 0);
  assert.equal(ps.ledger.sent, 150);
});

test('open TCP sessions growing over several publishes end up complete on the consumer', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const publisher = await startPublisher(t, publisherOptions(a, nats.url));
  await startConsumer(t, consumerOptions(b, nats.url));
  const id = uuidv7();
  // The session grows in the Record store three times; each time the publisher sends what is new.
  for (const [first, n, state] of [
    [0, 4, 'open'],
    [4, 3, 'open'],
    [7, 5, 'closed'],
  ] as const) {
    await fill(a, [tcpSegment(id, first, n, state)]);
    await waitFor(() => publisher.durableCursor === a.stats().lastSeq, `segment from ${first} acknowledged`);
    await waitFor(() => {
      const r = b.get(id);
      return r?.protocol === 'tcp' && r.chunks.length === first + n;
    }, `the consumer holds ${first + n} chunks`);
  }
  const sent = a.get(id);
  const got = b.get(id);
  assert.equal(got?.protocol, 'tcp');
  assert.ok(recordJson(got) === recordJson(sent), 'the whole session, closed, byte-identical');
  assert.equal(publisher.status().sent.messages, 3);
});
