/**
 * TCP sessions are recorded in segments while open. A segment appended after the session was
 * synced moves it along the store's feed, the sender sends only the new chunks, and the receiver
 * appends them exactly once — also after a sender restart, when the whole session is sent again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TcpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { SyncSender } from '../../src/sync/peer/sender.js';
import { fill, httpRecord, openStore, senderOptions, startReceiver, startSender, tcpSegment, tempDir, waitFor } from './helpers.js';

function chunksOf(r: unknown): number {
  return (r as TcpRecord | null)?.chunks.length ?? -1;
}

test('segments appended after the first sync reach the receiver, and the closed session is identical', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const { receiver, port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port));
  const id = uuidv7();

  await fill(a, [tcpSegment(id, 0, 10, 'open'), httpRecord(1)]);
  await waitFor(() => chunksOf(b.get(id)) === 10, 'the first segment');
  assert.equal((b.get(id) as TcpRecord).state, 'open');
  const feedBefore = a.stats().lastSeq;

  await fill(a, [tcpSegment(id, 10, 15, 'open')]);
  assert.ok(a.stats().lastSeq > feedBefore, 'appending a segment moved the session along the feed');
  await waitFor(() => chunksOf(b.get(id)) === 25, () => `the second segment (receiver has ${chunksOf(b.get(id))} chunks)`);

  await fill(a, [tcpSegment(id, 25, 3, 'closed'), httpRecord(2)]);
  await waitFor(() => (b.get(id) as TcpRecord | null)?.state === 'closed' && b.stats().count === 3, 'the closing segment');
  assert.deepEqual(b.get(id), a.get(id), 'the whole session is identical on both sides');
  assert.equal(chunksOf(b.get(id)), 28);
  await waitFor(() => sender.status().pending.records === 0, 'nothing pending');
  const ledger = receiver.status().ledger['az-a-1']!;
  assert.equal(ledger.stored, 5, 'two HTTP records and three segments changed the store');
});

test('after a sender restart an open session is sent whole, and the receiver keeps each chunk once', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.db');
  const a1 = await openStore(t, path);
  const b = await openStore(t, join(dir, 'b.db'));
  const { receiver, port } = await startReceiver(t, { store: b });
  const id = uuidv7();
  await fill(a1, [tcpSegment(id, 0, 8, 'open')]);
  const first = new SyncSender(senderOptions(a1, port));
  await first.start();
  await waitFor(() => chunksOf(b.get(id)) === 8, 'the first segment');
  await first.close(1000);
  await a1.close();

  const a2 = await openStore(t, path);
  await fill(a2, [tcpSegment(id, 8, 4, 'open')]);
  // A new sender knows no watermark: it sends all 12 chunks; the receiver must add only 4.
  const second = await startSender(t, senderOptions(a2, port));
  await waitFor(() => chunksOf(b.get(id)) === 12 && second.status().pending.records === 0, () => `12 chunks (has ${chunksOf(b.get(id))})`);
  await fill(a2, [tcpSegment(id, 12, 2, 'closed')]);
  // The store shows the commit before the receiver's ledger counts it; the acknowledgement comes after both.
  await waitFor(() => (b.get(id) as TcpRecord | null)?.state === 'closed' && second.status().pending.records === 0, 'the close, acknowledged');
  assert.deepEqual(b.get(id), a2.get(id));
  assert.ok((receiver.status().ledger['az-a-1']?.stored ?? 0) >= 3);
});

test('a session larger than a batch goes in parts, in order, and arrives whole', async (t) => {
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const id = uuidv7();
  // 48 chunks of 32 KiB = 1.5 MiB, through batches of at most 256 KiB, with HTTP records around it.
  await fill(a, [httpRecord(1), tcpSegment(id, 0, 48, 'closed', 32 * 1024), httpRecord(2)]);
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port, { batch: { maxRecords: 100, maxBytes: 256 * 1024 }, streams: 4 }));
  await waitFor(() => sender.status().pending.records === 0 && b.stats().count === 3, 'everything');
  assert.deepEqual(b.get(id), a.get(id));
  assert.ok(sender.status().sent.batches >= 6, `sent in parts (${sender.status().sent.batches} batches)`);
});
