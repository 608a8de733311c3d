/**
 * A store made by the release before payload segments (schema 1, fixtures/v1-store.db, made by
 * fixtures/make-v1-store.mjs with that build) opens: upgraded in place with a log line, its
 * records read back as they were stored, new records go to segments, an open v1 TCP session takes
 * appended segments, and the v1 rows are purged and deleted like any other.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { TcpRecord } from '../../src/recording/model.js';
import { SCHEMA_VERSION, Store } from '../../src/store/index.js';
import { V1_META, tcpChunk, v1Records } from './fixtures/v1-records.mjs';
import { CountingObserver, MemoryLogger, makeRecord, segmentFrames, storeOptions, tempDir, waitFor } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v1-store.db', import.meta.url));

async function copyOfFixture(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  copyFileSync(FIXTURE, path);
  return path;
}

test('a v1 store opens upgraded in place; its records read back as stored; new ones go to segments', async (t) => {
  const path = await copyOfFixture(t);
  const logger = new MemoryLogger();
  const store = await Store.open(storeOptions(path, { logger }));
  t.after(() => store.close());
  const line = logger.lines.find((l) => l.msg.includes('upgraded in place'));
  assert.ok(line, 'the upgrade is logged');
  assert.match(line.msg, /from schema 1 to 2: its 4 records stay in SQLite and are read as before; new payloads go to segment files/);
  assert.equal(store.getMeta('schema_version'), String(SCHEMA_VERSION));
  assert.equal(store.getMeta(V1_META[0]), V1_META[1], 'meta (the sync cursor) is kept');

  const old = v1Records();
  for (const r of old) assert.deepEqual(store.get(r.id), r);
  assert.deepEqual(
    store.readAfter(0, 10).map((f) => f.record.id),
    old.map((r) => r.id),
  );
  assert.equal(store.stats().count, 4);

  const fresh = makeRecord();
  store.offer(fresh);
  await store.flush();
  assert.deepEqual(store.get(fresh.id), fresh);
  assert.deepEqual(
    segmentFrames(path).map((f) => f.kind),
    ['doc', 'requestBody', 'responseBody'],
    'only the new record is in a segment',
  );
  assert.deepEqual(store.readAfter(4, 10)[0]?.record, fresh);
});

test('an open v1 TCP session takes segments appended after the upgrade', async (t) => {
  const path = await copyOfFixture(t);
  const store = await Store.open(storeOptions(path));
  t.after(() => store.close());
  const open = v1Records()[3] as TcpRecord;
  const more = [2, 3, 4].map((i) => tcpChunk(open.id, i));
  const closing: TcpRecord = { ...open, duration_ms: 250, bytes_in: open.bytes_in + 1, chunks: more, state: 'closed', close_reason: 'server_close' };
  store.offer(closing);
  await store.flush();
  const back = store.get(open.id) as TcpRecord;
  assert.equal(back.state, 'closed');
  assert.equal(back.close_reason, 'server_close');
  assert.deepEqual(
    back.chunks.map((c) => c.data),
    [0, 1, 2, 3, 4].map((i) => tcpChunk(open.id, i).data),
  );
  // The feed moved it past the sync cursor again, as an appended v1 session did.
  assert.equal(store.readAfter(4, 10)[0]?.record.id, open.id);
});

test('v1 rows are purged by age and deleted like any other; a reopen does not upgrade again', async (t) => {
  const path = await copyOfFixture(t);
  const observer = new CountingObserver();
  // The fixture's records are from 2025-12: a day of retention expires them all.
  const store = await Store.open(storeOptions(path, { retentionMs: 24 * 3600 * 1000, observer }));
  await waitFor(() => observer.purges.retention?.count === 4, 'the v1 rows to be purged');
  assert.equal(store.stats().count, 0);
  const db = new Database(path, { readonly: true });
  assert.deepEqual(db.prepare('SELECT count(*) AS n FROM chunks').get(), { n: 0 }, 'their chunk rows went with them');
  db.close();
  await store.close();

  const again = await copyOfFixture(t);
  const logger = new MemoryLogger();
  const s1 = await Store.open(storeOptions(again, { logger }));
  assert.equal(await s1.delete(v1Records()[1]!.id), true);
  assert.equal(s1.get(v1Records()[1]!.id), null);
  await s1.close();
  const s2 = await Store.open(storeOptions(again, { logger }));
  t.after(() => s2.close());
  assert.equal(logger.lines.filter((l) => l.msg.includes('upgraded in place')).length, 1);
  assert.equal(s2.stats().count, 3);
});
