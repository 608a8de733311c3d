/**
 * A corrupted frame in the middle of a segment: that record is reported damaged (the API answers
 * 500 QP_ERR_STORE_DAMAGED), every other record stays readable, and sync sends the rest.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { ApiServer } from '../../src/api/api-server.js';
import { Store } from '../../src/store/index.js';
import { call } from '../api/api-helpers.js';
import { startReceiver, startSender, senderOptions, waitFor as waitForSync, allRecords } from '../sync/helpers.js';
import { CountingObserver, MemoryLogger, binary, flipExtentByte, makeRecord, openStore, storeOptions, tempDir } from './helpers.js';

test('a corrupted frame makes that one record damaged; the rest reads back and syncs', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.db');
  const records = Array.from({ length: 5 }, () => {
    const r = makeRecord();
    r.response!.body = { data: binary(4000), size: 4000, truncated: false };
    return r;
  });
  const writer = await Store.open(storeOptions(path));
  for (const r of records) writer.offer(r);
  await writer.close();
  const bad = records[2]!;
  flipExtentByte(path, bad.id, -100); // inside its last body

  const logger = new MemoryLogger();
  let damaged = 0;
  const observer = Object.assign(new CountingObserver(), {
    damaged(n: number) {
      damaged += n;
    },
  });
  const store = await Store.open(storeOptions(path, { logger, observer }));
  t.after(() => store.close());
  assert.throws(() => store.get(bad.id), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'QP_ERR_STORE_DAMAGED');
    assert.match(err.message, new RegExp(`record ${bad.id} is damaged: the frame at segment 1 offset \\d+\\+\\d+ fails its checksum`));
    return true;
  });
  for (const r of records.filter((x) => x !== bad)) assert.deepEqual(store.get(r.id), r);
  // The index still lists it: only its bytes are bad.
  assert.equal(store.list({ limit: 10 }).records.length, 5);

  // The feed skips it, once logged and each time counted.
  assert.deepEqual(
    store.readAfter(0, 10).map((f) => f.record.id),
    records.filter((x) => x !== bad).map((r) => r.id),
  );
  store.readAfter(0, 10);
  assert.equal(damaged, 2);
  assert.equal(logger.count('error', 'is damaged'), 1);

  // The API answers 500 with the code for it, 200 for the others.
  const api = new ApiServer({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    records: store,
    status: () => ({}),
    metrics: { render: () => Promise.resolve(''), contentType: 'text/plain' },
    ready: () => true,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => api.close());
  const { port } = await api.listen();
  const answer = await call(port, 'GET', `/api/records/${bad.id}`);
  assert.equal(answer.status, 500);
  assert.equal(answer.json().code, 'QP_ERR_STORE_DAMAGED');
  assert.equal((await call(port, 'GET', `/api/records/${records[3]!.id}`)).status, 200);

  // Sync moves past it: the peer gets the other four.
  const b = await openStore(t);
  const { port: syncPort } = await startReceiver(t, { store: b.store });
  const sender = await startSender(t, senderOptions(store, syncPort));
  await waitForSync(() => b.store.stats().count === 4 && sender.durableCursor === 5, 'the four readable records to reach the peer');
  assert.deepEqual([...allRecords(b.store).keys()].sort(), records.filter((x) => x !== bad).map((r) => r.id).sort());
});
