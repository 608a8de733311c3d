/**
 * The link between the nodes fails in the ways links fail: cut mid-batch, reset, blackholed (no
 * FIN, no RST). A TCP relay the test controls sits between sender and receiver. Afterwards the
 * receiver holds exactly the sender's records: none missing, none twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FaultRelay } from '../helpers/fault-relay.js';
import { allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, syncMetrics, tempDir, waitFor } from './helpers.js';

async function relayTo(t: { after(fn: () => Promise<void>): void }, port: number): Promise<FaultRelay> {
  const relay = await FaultRelay.start({ host: '127.0.0.1', port });
  t.after(() => relay.close());
  return relay;
}

test('cut and reset repeatedly mid-stream: the receiver ends with exactly the sender\'s records', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const total = 2400;
  await fill(a, Array.from({ length: total }, (_, i) => httpRecord(i)));
  const { receiver, port } = await startReceiver(t, { store: b });
  const relay = await relayTo(t, port);
  relay.latency(2);
  const sender = await startSender(t, senderOptions(a, relay.port, { batch: { maxRecords: 40, maxBytes: 256 * 1024 } }));

  // Cut whenever some progress was made since the last cut, so every cut lands mid-stream.
  let cuts = 0;
  let seen = 0;
  while (cuts < 8 && b.stats().count < total) {
    await waitFor(() => (b.stats().count > seen && relay.open > 0) || b.stats().count === total, 'progress between cuts');
    seen = b.stats().count;
    if (seen === total) break;
    if (cuts % 2 === 0) relay.cut();
    else relay.reset();
    cuts++;
  }
  assert.ok(cuts >= 3, `the link was cut mid-stream at least 3 times (was ${cuts})`);
  await waitFor(() => sender.status().pending.records === 0, () => `everything acknowledged (receiver has ${b.stats().count})`, 60_000);

  const sent = allRecords(a);
  const got = allRecords(b);
  assert.equal(b.stats().count, total, 'no record missing, none twice');
  assert.deepEqual([...got.keys()].sort(), [...sent.keys()].sort());
  for (const [id, r] of sent) assert.deepEqual(got.get(id), r);
  assert.ok(relay.accepted > cuts, 'the sender reconnected after each cut');
  const ledger = receiver.status().ledger['az-a-1']!;
  assert.equal(ledger.stored, total);
  assert.equal(ledger.received, ledger.stored + ledger.duplicates + Object.values(ledger.rejected).reduce((x, y) => x + y, 0));
});

test('a blackholed peer is detected by PING within seconds, and sync resumes once the link heals', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const relay = await relayTo(t, port);
  const tx = syncMetrics();
  const sender = await startSender(
    t,
    senderOptions(a, relay.port, {
      observer: tx.metrics,
      timers: { connectTimeoutMs: 500, pingIntervalMs: 150, pingTimeoutMs: 300, ackTimeoutMs: 5000 },
    }),
  );
  await fill(a, Array.from({ length: 20 }, (_, i) => httpRecord(i)));
  await waitFor(() => b.stats().count === 20 && sender.connected, 'the first records and a live connection');

  relay.blackhole(true);
  await waitFor(() => !sender.status().connected, 'the sender to notice the blackhole', 10_000);
  assert.ok((tx.metrics.failuresByReason().ping_timeout ?? 0) >= 1, 'noticed by an unanswered PING');
  await fill(a, Array.from({ length: 30 }, (_, i) => httpRecord(100 + i)));

  relay.blackhole(false);
  await waitFor(() => b.stats().count === 50 && sender.status().pending.records === 0, 'the rest after the link healed', 20_000);
  assert.equal(sender.status().connected, true);
  assert.deepEqual([...allRecords(b).keys()].sort(), [...allRecords(a).keys()].sort());
});

test('a peer that is down at start is retried with back-off, and everything arrives once it is up', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  await fill(a, Array.from({ length: 60 }, (_, i) => httpRecord(i)));
  const { port } = await startReceiver(t, { store: b });
  const relay = await relayTo(t, port);
  relay.refuse(true);
  const sender = await startSender(t, senderOptions(a, relay.port));
  await waitFor(() => (sender.status().last_error?.attempts ?? 0) >= 3, 'a few refused attempts');
  const s = sender.status();
  assert.equal(s.connected, false);
  assert.equal(s.pending.records, 60);
  assert.ok(s.next_retry_at !== null || s.state === 'connecting');
  // Records arriving count at once, not after the pending figure's one-second reuse.
  await fill(a, Array.from({ length: 5 }, (_, i) => httpRecord(100 + i)));
  assert.equal(sender.status().pending.records, 65);
  relay.refuse(false);
  await waitFor(() => b.stats().count === 65, 'the records once the peer accepts connections');
});
