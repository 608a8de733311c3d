/**
 * Records not yet sent are kept by retention (the store's purge floor is the durable sync cursor);
 * only the size limit may purge them, and then the loss is counted in the ledger and logged.
 * Retention drops whole payload segments: small ones here, so that 100 records make many.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readDurableCursor, SENDER_META_KEY } from '../../src/sync/peer/sender-state.js';
import type { Store } from '../../src/store/index.js';
import Database from 'better-sqlite3';
import { MemoryLog, allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, tempDir, waitFor } from './helpers.js';

const HOUR = 3_600_000;

/** The first seq of the segment holding `seq`, from the store's index. */
function segmentStart(path: string, seq: number): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT max(first_seq) AS s FROM segments WHERE first_seq <= ?').get(seq) as { s: number }).s;
  } finally {
    db.close();
  }
}

test('retention purges only what sync has sent; the rest waits for the peer', async (t) => {
  const dir = await tempDir(t);
  let a: Store | null = null;
  a = await openStore(t, join(dir, 'a.db'), {
    retentionMs: HOUR,
    purgeIntervalMs: 50,
    segmentBytes: 4096,
    purgeFloor: () => readDurableCursor((k) => a?.getMeta(k) ?? null),
  });
  const old = Date.now() - 2 * HOUR;
  await fill(a, Array.from({ length: 100 }, (_, i) => httpRecord(i, { started_at: old + i })));
  // As if the first 40 had been sent and acknowledged.
  await a.setMeta(SENDER_META_KEY, JSON.stringify({ cursor: 40, sent_records: 40, sent_bytes: 0, refused_records: 0, peer: '' }));
  // Whole segments go: the one holding seq 41 (unsent) stays, with the sent records before it in it.
  const keptFrom = segmentStart(join(dir, 'a.db'), 41);
  assert.ok(keptFrom > 1 && keptFrom <= 41);
  await waitFor(() => a.stats().count === 100 - (keptFrom - 1), () => `the segments of sent records to be purged (count ${a?.stats().count})`);
  assert.equal(a.readAfter(0, 1)[0]?.seq, keptFrom, 'every unsent record is still there');

  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const sender = await startSender(t, senderOptions(a, port));
  await waitFor(() => b.stats().count === 100 - (keptFrom - 1) && sender.durableCursor === 100, 'the rest to be sent');
  // All but the segment being appended to, which retention never touches.
  const last = segmentStart(join(dir, 'a.db'), 100);
  await waitFor(() => a.stats().count === 100 - (last - 1), 'retention to purge them once sent');
});

test('when the size limit purges unsent records, the loss is counted, persisted, logged, and the ledger reconciles', async (t) => {
  const dir = await tempDir(t);
  const log = new MemoryLog();
  let a: Store | null = null;
  // Segments + index over 160 KiB: the oldest segments go until they fit, unsent or not.
  a = await openStore(t, join(dir, 'a.db'), {
    maxSizeBytes: 160 * 1024,
    purgeIntervalMs: 50,
    segmentBytes: 8192,
    logger: log,
    purgeFloor: () => readDurableCursor((k) => a?.getMeta(k) ?? null),
  });
  const total = 120;
  await fill(a, Array.from({ length: total }, (_, i) => httpRecord(i)));
  await waitFor(
    () => a.stats().count < total && Number(a.getMeta('sync.purged_unsent.records')) === total - a.stats().count && log.count('warn', 'sync had not yet sent') === 1,
    'the size purge',
  );
  const purged = Number(a.getMeta('sync.purged_unsent.records'));
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
