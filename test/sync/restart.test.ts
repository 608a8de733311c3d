/**
 * Restarts: the sender resumes exactly at its durable cursor (a new Store instance on the same
 * file), the receiver keeps its ledger across a restart, and several Record nodes feed one
 * Playback node with a ledger line each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FaultRelay } from '../helpers/fault-relay.js';
import { SyncSender } from '../../src/sync/peer/sender.js';
import { allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, tempDir, waitFor } from './helpers.js';

test('a restarted sender (new Store on the same file) resumes at its cursor: nothing missing, nothing re-sent', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.db');
  const total = 600;
  const a1 = await openStore(t, path);
  await fill(a1, Array.from({ length: total }, (_, i) => httpRecord(i)));
  const b = await openStore(t, join(dir, 'b.db'));
  const { receiver, port } = await startReceiver(t, { store: b });
  // A slow link, so the first sender stops half-way.
  const relay = await FaultRelay.start({ host: '127.0.0.1', port });
  t.after(() => relay.close());
  relay.bandwidth(400 * 1024);
  const opts = { batch: { maxRecords: 25, maxBytes: 256 * 1024 }, streams: 2 };
  const first = new SyncSender(senderOptions(a1, relay.port, opts));
  await first.start();
  await waitFor(() => b.stats().count >= 100, 'part of the records');
  await first.close(5000);
  await a1.close();
  const saved = JSON.parse(
    (await (async () => {
      const peek = await openStore(t, path);
      const v = peek.getMeta('sync.sender');
      await peek.close();
      return v;
    })()) ?? '{}',
  ) as { cursor: number };
  assert.ok(saved.cursor >= 100 && saved.cursor < total, `stopped half-way at a saved cursor (${saved.cursor})`);
  assert.equal(b.stats().count, saved.cursor, 'a graceful stop acknowledged and saved everything it sent');

  relay.bandwidth(0);
  const a2 = await openStore(t, path);
  const second = await startSender(t, senderOptions(a2, relay.port, opts));
  assert.equal(second.status().cursor, saved.cursor, 'the new sender starts at the saved cursor');
  await waitFor(() => second.status().pending.records === 0, 'the rest');
  assert.equal(b.stats().count, total);
  assert.deepEqual([...allRecords(b).keys()].sort(), [...allRecords(a2).keys()].sort());
  assert.equal(receiver.status().ledger['az-a-1']?.duplicates, 0, 'nothing was sent twice');
  assert.equal(second.status().ledger.sent, total, 'the sent counter survived the restart');
});

test('the receiver\'s ledger survives its restart; two Record nodes feed one Playback node', async (t) => {
  const dir = await tempDir(t);
  const a1 = await openStore(t, join(dir, 'a1.db'));
  const a2 = await openStore(t, join(dir, 'a2.db'));
  await fill(a1, Array.from({ length: 120 }, (_, i) => httpRecord(i, { node_id: 'az-a-1' })));
  await fill(a2, Array.from({ length: 80 }, (_, i) => httpRecord(i, { node_id: 'az-a-2' })));
  const bPath = join(dir, 'b.db');
  const b1 = await openStore(t, bPath);
  const r1 = await startReceiver(t, { store: b1 });
  const relay = await FaultRelay.start({ host: '127.0.0.1', port: r1.port });
  t.after(() => relay.close());
  const s1 = await startSender(t, senderOptions(a1, relay.port, { nodeId: 'az-a-1' }));
  const s2 = await startSender(t, senderOptions(a2, relay.port, { nodeId: 'az-a-2' }));
  // The store's count moves at the commit, the ledger a moment later (when the writer thread reports it).
  await waitFor(() => b1.stats().count === 200, 'both nodes\' records');
  await waitFor(() => s1.status().pending.records === 0 && s2.status().pending.records === 0, 'both senders acknowledged');
  const before = r1.receiver.status().ledger;
  assert.equal(before['az-a-1']?.stored, 120);
  assert.equal(before['az-a-2']?.stored, 80);
  assert.equal(before['az-a-1']?.last_seq, a1.stats().lastSeq);

  // Restart the Playback node: receiver and store. The senders reconnect on their own.
  await r1.receiver.close(1000);
  await b1.close();
  const b2 = await openStore(t, bPath);
  const r2 = await startReceiver(t, { store: b2 });
  assert.deepEqual(r2.receiver.status().ledger, before, 'the ledger came back from the store');
  relay.retarget(r2.port);
  relay.reset();
  await fill(a1, Array.from({ length: 30 }, (_, i) => httpRecord(500 + i, { node_id: 'az-a-1' })));
  await fill(a2, Array.from({ length: 20 }, (_, i) => httpRecord(500 + i, { node_id: 'az-a-2' })));
  await waitFor(() => b2.stats().count === 250, 'the records made after the restart');
  await waitFor(() => s1.status().pending.records === 0 && s2.status().pending.records === 0, 'both senders caught up');
  const after = r2.receiver.status().ledger;
  assert.equal(after['az-a-1']?.stored, 150);
  assert.equal(after['az-a-2']?.stored, 100);
  assert.equal(after['az-a-1'].stored + after['az-a-2'].stored, b2.stats().count);
  assert.equal(s1.status().ledger.sent - after['az-a-1'].duplicates, after['az-a-1'].stored, 'zone A and zone B reconcile');
});
