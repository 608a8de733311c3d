/**
 * Records not yet sent are kept by retention (the store's purge floor is the durable sync cursor);
 * only the size limit may purge them, and then the loss is counted in the ledger and logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readDurableCursor, SENDER_META_KEY } from '../../src/sync/sender-state.js';
import type { Store } from '../../src/store/index.js';
import { MemoryLog, allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, tempDir, waitFor } from './helpers.js';

const HOUR = 3_600_000;

test('retention purges only what sync has sent; the rest waits for the peer', async (t) => {
  const dir = await tempDir(t);
  let a: Store | null = null;
  a = await openStore(t, join(dir, 'a.db'), {
    retentionMs: HOUR,
    purgeIntervalMs: 50,
    purgeFloor: () => readDurableCursor((k) => a?.getMeta(k) ?? null),
  });
  const old = Date.now() - 2 * HOUR;
  await fill(a, Array.from({ length: 100 }, (_, i) => httpRecord(i, { started_at: old + i })));
  // As if the first 40 had been sent and acknowledged.
  await a.setMeta(SENDER_META_KEY, JSON.stringify({ cursor: 40, sent_records: 40, sent_bytes: 0, refused_records: 0, peer: '' }));
  await waitFor(() => a.stats().count === 60, () => `the 40 sent records to be purged (count ${a?.stats().count})`);
  assert.equal(a.readAfter(0, 1)[0]?.seq, 41, 'every unsent record is still there');

  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port));
  await waitFor(() => b.stats().count === 60 && sender.durableCursor === 100, 'the rest to be sent');
  await waitFor(() => a.stats().count === 0, 'retention to purge them once sent');
});

test('when the size limit purges unsent records, the loss is counted, persisted, logged, and the ledger reconciles', async (t) => {
  const dir = await tempDir(t);
  const log = new MemoryLog();
  let a: Store | null = null;
  a = await openStore(t, join(dir, 'a.db'), {
    maxSizeBytes: 40 * 1024,
    purgeIntervalMs: 50,
    logger: log,
    purgeFloor: () => readDurableCursor((k) => a?.getMeta(k) ?? null),
  });
  const total = 120;
  await fill(a, Array.from({ length: total }, (_, i) => httpRecord(i)));
  // The warning is logged when the writer thread reports the purge, a moment after its commit shows.
  await waitFor(() => a.stats().bytes <= 40 * 1024 && log.count('warn', 'sync had not yet sent') > 0, 'the size purge, logged');
  const purged = Number(a.getMeta('sync.purged_unsent.records'));
  assert.ok(purged > 0 && purged === total - a.stats().count, `purged_unsent counts every purged record (${purged})`);
  assert.ok(Number(a.getMeta('sync.purged_unsent.bytes')) > 0);
  assert.equal(log.count('warn', 'sync had not yet sent'), 1);

  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port));
  await waitFor(() => sender.status().pending.records === 0, 'the survivors to be sent');
  const s = sender.status();
  assert.equal(s.ledger.purged_unsent.records, purged);
  assert.equal(s.ledger.sent + s.ledger.purged_unsent.records, total, 'sent + purged unsent = recorded');
  assert.deepEqual([...allRecords(b).keys()].sort(), [...allRecords(a).keys()].sort());
});
