/**
 * The receiver keeps several batches in flight through the store (ReceiverWriter): they commit and
 * are acknowledged in arrival order, each prepared on top of the ones before it. When one fails
 * (an SQLite error, a full disk, the writer thread dying), none prepared on top of it commits,
 * nothing is acknowledged that was not committed, and sending the failed batches again stores
 * everything exactly once — including a TCP session whose segments are spread over the batches.
 */
import assert from 'node:assert/strict';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HttpRecord, TcpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import type { Store } from '../../src/store/index.js';
import { RECEIVER_BATCHES_IN_FLIGHT, ReceiverWriter, type StoredBatch } from '../../src/sync/receiver-writer.js';
import type { ReceiverStore } from '../../src/sync/store-port.js';
import type { NodeLedger } from '../../src/sync/receiver-ledger.js';
import { encodeBatch, type DecodedBatch, type SyncEntry } from '../../src/sync/wire-format.js';
import { WriterFaults, mountTmpfs } from '../store/helpers.js';
import { MemoryLog, allRecords, httpRecord, openStore, postBatch, startReceiver, tcpSegment, tempDir } from './helpers.js';

const NODE = 'az-a-1';
/** Chunks of the TCP session each batch adds. */
const CHUNKS = 6;

interface Plan {
  session: string;
  batches: DecodedBatch[];
  http: HttpRecord[];
  /** Chunks of the whole session once every batch is stored. */
  total: number;
  chunkBytes: number;
}

/**
 * `count` batches, each with two HTTP records and the next segment of one TCP session. From the
 * second batch on, the segment starts two chunks early (a resend of chunks the batch before
 * carries): only the receiver's expected state of the batch before says they are already there.
 * Batch 3 also carries the whole of batch 2's segment again (a duplicate). The last one closes it.
 */
function plan(count: number, chunkBytes = 64): Plan {
  const session = uuidv7();
  const http: HttpRecord[] = [];
  const batches: DecodedBatch[] = [];
  let seq = 1000;
  for (let k = 0; k < count; k++) {
    const entries: SyncEntry[] = [];
    for (let j = 0; j < 2; j++) {
      const r = httpRecord(k * 2 + j);
      http.push(r);
      entries.push({ seq: ++seq, record: r });
    }
    if (k === 3) entries.push({ seq: ++seq, record: tcpSegment(session, 2 * CHUNKS, CHUNKS, 'open', chunkBytes), chunkBase: 2 * CHUNKS });
    const base = Math.max(0, k * CHUNKS - 2);
    const end = (k + 1) * CHUNKS;
    const state = k === count - 1 ? 'closed' : 'open';
    entries.push({ seq: ++seq, record: tcpSegment(session, base, end - base, state, chunkBytes), chunkBase: base });
    batches.push({ node: NODE, entries });
  }
  return { session, batches, http, total: count * CHUNKS, chunkBytes };
}

/** The store as the receiver sees it, counting the ingests it has in flight at once. */
function counting(store: Store): { port: ReceiverStore; most: () => number } {
  let now = 0;
  let most = 0;
  const port: ReceiverStore = {
    ingest: async (records, opts) => {
      most = Math.max(most, ++now);
      try {
        return await store.ingest(records, opts);
      } finally {
        now--;
      }
    },
    get: (id) => store.get(id),
    getMeta: (key) => store.getMeta(key),
    setMeta: (key, value) => store.setMeta(key, value),
  };
  return { port, most: () => most };
}

/** Hands every batch to the writer at once; the outcomes, and the order they settled in. */
async function storeAll(
  writer: ReceiverWriter,
  batches: readonly DecodedBatch[],
  openedIn?: number,
): Promise<{ results: Array<PromiseSettledResult<StoredBatch>>; order: number[] }> {
  const order: number[] = [];
  const results = await Promise.allSettled(
    batches.map((b, i) =>
      writer.storeBatch(b, openedIn).finally(() => {
        order.push(i);
      }),
    ),
  );
  return { results, order };
}

/** The stored session holds exactly chunks 0..total-1, each once, in order. */
function assertSession(store: Store, p: Plan, total: number, state: 'open' | 'closed'): void {
  const got = store.get(p.session) as TcpRecord | null;
  assert.ok(got, 'the session is stored');
  const want = tcpSegment(p.session, 0, total, state, p.chunkBytes);
  assert.equal(got.chunks.length, total, `the session holds ${total} chunks`);
  const wrong = got.chunks.findIndex((c, i) => !Buffer.from(c.data).equals(want.chunks[i]!.data));
  assert.equal(wrong, -1, 'every chunk once, in order');
  assert.equal(got.state, state);
}

/** HTTP records of the store, by id. */
function httpIds(store: Store): Set<string> {
  return new Set([...allRecords(store).values()].filter((r) => r.protocol === 'http').map((r) => r.id));
}

/** The ledger as a fresh receiver reads it back from meta. */
function durableLedger(store: Store): Record<string, NodeLedger> {
  return new ReceiverWriter(store, new MemoryLog()).ledgerSnapshot();
}

test('pipelined batches are all stored, acknowledged in arrival order, with a bounded number in flight', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, join(dir, 'b.db'));
  const { port, most } = counting(store);
  const writer = new ReceiverWriter(port, new MemoryLog());
  const p = plan(10);

  const { results, order } = await storeAll(writer, p.batches);
  for (const r of results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
  assert.deepEqual(order, [...p.batches.keys()], 'acknowledged in arrival order');
  assert.equal(most(), RECEIVER_BATCHES_IN_FLIGHT, 'several batches in the store at once, never more than the bound');

  assertSession(store, p, p.total, 'closed');
  assert.deepEqual(httpIds(store), new Set(p.http.map((r) => r.id)));
  const ledger = writer.ledgerSnapshot()[NODE]!;
  // 20 HTTP records and 10 segments changed the store; batch 3's resend of batch 2's segment did not.
  assert.equal(ledger.stored, 30);
  assert.equal(ledger.duplicates, 1);
  assert.deepEqual(durableLedger(store), writer.ledgerSnapshot(), 'meta holds what memory does');
  assert.equal(store.getMeta(`sync.rx.tcp:${p.session}`), null, 'the closed session left no receive state');
});

/** Checks what a failure mid-pipeline left, sends the failed batches again, and checks everything arrived once. */
async function failThenRetry(
  store: Store,
  writer: ReceiverWriter,
  p: Plan,
  results: ReadonlyArray<PromiseSettledResult<StoredBatch>>,
): Promise<number> {
  const failedAt = results.findIndex((r) => r.status === 'rejected');
  assert.ok(failedAt > 0, `the first batch is stored and a later one fails (first failure: ${failedAt})`);
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, i < failedAt ? 'fulfilled' : 'rejected', `batch ${i}: everything after the failed batch fails with it`);
  }
  // Nothing acknowledged that is not committed, nothing committed past the failure.
  assertSession(store, p, failedAt * CHUNKS, 'open');
  assert.deepEqual(httpIds(store), new Set(p.http.slice(0, failedAt * 2).map((r) => r.id)));
  assert.equal((JSON.parse(store.getMeta(`sync.rx.tcp:${p.session}`)!) as { chunks: number }).chunks, failedAt * CHUNKS, 'the receive state counts only committed chunks');
  assert.equal(writer.ledgerSnapshot()[NODE]!.stored, failedAt * 3);

  // The sender sends everything unacknowledged again, in order, several at once.
  const again = await storeAll(writer, p.batches.slice(failedAt));
  for (const r of again.results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
  assert.deepEqual(
    again.order,
    again.results.map((_, i) => i),
  );
  assertSession(store, p, p.total, 'closed');
  assert.deepEqual(httpIds(store), new Set(p.http.map((r) => r.id)));
  assert.equal(allRecords(store).size, p.http.length + 1, 'every record once');
  const ledger = writer.ledgerSnapshot()[NODE]!;
  assert.equal(ledger.stored, p.batches.length * 3);
  assert.deepEqual(durableLedger(store), writer.ledgerSnapshot(), 'meta holds what memory does');
  return failedAt;
}

test('an ingest failing mid-pipeline: the batches prepared on top of it are refused by the writer, and a resend stores all once', async (t) => {
  const dir = await tempDir(t);
  const faults = new WriterFaults(t);
  const store = await openStore(t, join(dir, 'b.db'), { writerEntry: faults.entry });
  const writer = new ReceiverWriter(store, new MemoryLog());
  const p = plan(7);

  await faults.failIngest(1);
  const { results } = await storeAll(writer, p.batches);
  assert.equal(await failThenRetry(store, writer, p, results), 1);
  const reasons = results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'stored'));
  assert.match(reasons[1]!, /test fault/);
  // 2, 3 and 4 (started when 0 committed) were in flight on top of 1: the writer thread refused them.
  for (const i of [2, 3, 4]) assert.match(reasons[i]!, /prepared on top of ingest \d+, which did not commit/, `batch ${i}`);
  // 5 and 6 were waiting for room in the pipeline: refused without reaching the store.
  for (const i of [5, 6]) assert.match(reasons[i]!, /an earlier batch in the receiver's pipeline failed/, `batch ${i}`);
});

test('the writer thread dying mid-pipeline: nothing after the last commit is acknowledged, and a resend stores all once', async (t) => {
  const dir = await tempDir(t);
  const faults = new WriterFaults(t);
  const store = await openStore(t, join(dir, 'b.db'), { writerEntry: faults.entry });
  const log = new MemoryLog();
  const writer = new ReceiverWriter(store, log);
  const p = plan(7);

  await faults.crashOnIngest(2);
  const { results } = await storeAll(writer, p.batches);
  const failedAt = results.findIndex((r) => r.status === 'rejected');
  assert.equal(failedAt, 2);
  // The writer restarts by itself after a back-off; a sender retries until it takes batches again.
  for (let i = 0; ; i++) {
    const probe = await Promise.allSettled([writer.storeBatch(p.batches[failedAt]!)]);
    if (probe[0].status === 'fulfilled') break;
    assert.ok(i < 500, 'the writer thread came back');
    await new Promise((r) => setTimeout(r, 20));
  }
  // The probe stored batch 2 (prepared on the durable state): the rest goes as the sender would send it.
  const probed: PromiseSettledResult<StoredBatch> = { status: 'fulfilled', value: { stored: 0, skipped: 0 } };
  const rest = results.map((r, i) => (i === failedAt ? probed : r));
  assert.equal(await failThenRetry(store, writer, p, rest), 3);
});


test('the disk filling mid-pipeline: batches after the failed segment write are not posted, and a resend stores all once', async (t) => {
  const MiB = 1024 * 1024;
  const fs = mountTmpfs(12 * MiB);
  if (typeof fs === 'string') {
    t.skip(fs);
    return;
  }
  let store: Store | null = null;
  t.after(async () => {
    await store?.close();
    fs.unmount();
  });
  // Only the segments are on the small file system: the index keeps room, so the segment write is what fails.
  const dir = await tempDir(t);
  symlinkSync(fs.dir, join(dir, 'b.db.segments'));
  store = await openStore(t, join(dir, 'b.db'), { segmentBytes: 64 * MiB });
  const writer = new ReceiverWriter(store, new MemoryLog());
  // 8 segments of 6 new chunks of 128 KiB (0.75 MiB a batch), and a 3.5 MiB body in batch 1, into about 4 MiB of room.
  const p = plan(8, 128 * 1024);
  const big = Buffer.alloc(3.5 * MiB, 7);
  p.http[2]!.response!.body = { data: big, size: big.byteLength, truncated: false };
  const ballast = join(fs.dir, 'ballast');
  writeFileSync(ballast, Buffer.alloc(8 * MiB));

  const { results } = await storeAll(writer, p.batches);
  const reasons = results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'stored'));
  assert.equal(
    results.findIndex((r) => r.status === 'rejected'),
    1,
  );
  assert.match(reasons[1]!, /ENOSPC|no space/i);
  // In flight behind it, their frames fit again once the failed write was cut off: not posted to the writer.
  for (const i of [2, 3]) assert.match(reasons[i]!, /prepared on top of ingest \d+, which failed/, `batch ${i}`);
  // Later ones went in flight as batch 0 committed, or waited for room: either way refused.
  for (const i of [4, 5, 6, 7]) assert.match(reasons[i]!, /which failed|an earlier batch in the receiver's pipeline failed/, `batch ${i}`);

  rmSync(ballast);
  await failThenRetry(store, writer, p, results);
});

test('a batch of a sender window that a failure ended, arriving after the failure drained, is refused instead of stored with a gap', async (t) => {
  const dir = await tempDir(t);
  const faults = new WriterFaults(t);
  const store = await openStore(t, join(dir, 'b.db'), { writerEntry: faults.entry });
  const writer = new ReceiverWriter(store, new MemoryLog());
  const p = plan(7);

  // The sender's first connection sends batches 0–2; 1 fails, 2 is refused with it.
  const first = writer.epoch;
  await faults.failIngest(1);
  const { results } = await storeAll(writer, p.batches.slice(0, 3), first);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'rejected'],
  );
  await writer.idle();
  assert.ok(writer.epoch > first, 'the failure starts a new epoch');

  // Batch 3 of that window was still decompressing: it comes after everything drained. Its TCP
  // segment starts at chunk 16 while 6 are stored; stored, it would leave a gap that batch 1's
  // resend (chunks 4–11) could no longer fill, as the receive state would say 18 are here.
  const late = await Promise.allSettled([writer.storeBatch(p.batches[3]!, first)]);
  assert.equal(late[0].status, 'rejected');
  assert.match(String((late[0]).reason), /while this connection was open.*test fault/s);
  assertSession(store, p, CHUNKS, 'open');
  assert.equal(httpIds(store).size, 2, 'nothing of the late batch is stored');

  // The sender's new connection sends everything unacknowledged again: all of it arrives once.
  const again = await storeAll(writer, p.batches.slice(1), writer.epoch);
  for (const r of again.results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
  assertSession(store, p, p.total, 'closed');
  assert.deepEqual(httpIds(store), new Set(p.http.map((r) => r.id)));
  assert.equal(writer.ledgerSnapshot()[NODE]!.stored, p.batches.length * 3);
});

test('peer receiver: a connection that was open when a batch failed gets its later batches refused; a new connection stores them', async (t) => {
  const dir = await tempDir(t);
  const faults = new WriterFaults(t);
  const store = await openStore(t, join(dir, 'b.db'), { writerEntry: faults.entry });
  const { port } = await startReceiver(t, { store });
  const open = (): ClientHttp2Session => {
    const s = connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    t.after(() => s.destroy());
    return s;
  };
  const batch = (from: number): Buffer =>
    encodeBatch(
      NODE,
      [0, 1].map((i) => ({ seq: from + i, record: httpRecord(from + i, { node_id: NODE }) })),
      2,
    );

  const idle = open();
  const failing = open();
  assert.equal((await postBatch(idle, batch(1), 2)).status, 200, 'both connections work before the failure');
  await faults.failIngest(0);
  const failed = await postBatch(failing, batch(3), 2);
  assert.equal(failed.status, 503);
  assert.equal(failed.code, 'QP_ERR_SYNC_STORE');

  // The idle connection was open then: a batch on it may belong to a window the failure ended.
  const stale = await postBatch(idle, batch(5), 2);
  assert.equal(stale.status, 503);
  assert.equal(stale.code, 'QP_ERR_SYNC_STORE');
  assert.match(stale.error ?? '', /while this connection was open/);
  assert.equal(allRecords(store).size, 2, 'nothing of the refused batches is stored');

  const fresh = open();
  assert.equal((await postBatch(fresh, batch(3), 2)).status, 200);
  assert.equal((await postBatch(fresh, batch(5), 2)).status, 200);
  assert.equal(allRecords(store).size, 6);
});
