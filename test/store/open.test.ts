import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { StoreError } from '../../src/core/errors.js';
import { SCHEMA_VERSION, Store } from '../../src/store/index.js';
import { binary, makeRecord, storeOptions, tempDir } from './helpers.js';

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

test('a file written by a newer schema version is refused and left unchanged', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const store = await Store.open(storeOptions(path));
  store.offer(makeRecord());
  await store.close();
  const db = new Database(path);
  db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 98));
  db.pragma('journal_mode = DELETE'); // a newer QProxy might not use WAL; the old one must not switch it
  db.close();
  const before = sha256(path);

  await assert.rejects(Store.open(storeOptions(path)), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'QP_ERR_STORE_VERSION');
    assert.match(err.message, new RegExp(`version ${SCHEMA_VERSION + 98}\\b`));
    assert.match(err.message, new RegExp(`version ${SCHEMA_VERSION}\\b`));
    assert.match(err.message, /upgrade QProxy/);
    return true;
  });
  assert.equal(sha256(path), before);
});

test('a file that is not a SQLite database is refused and left byte-identical', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  writeFileSync(path, Buffer.concat([Buffer.from('not a database, but precious\n'), binary(8000)]));
  const before = sha256(path);
  await assert.rejects(Store.open(storeOptions(path)), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'QP_ERR_STORE_CORRUPT');
    assert.ok(err.message.includes(path));
    assert.match(err.message, /move it away/);
    return true;
  });
  assert.equal(sha256(path), before);
  assert.deepEqual(readdirSync(dir), ['qproxy.db']);
});

test('a SQLite database of another program is refused and left unchanged', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'app.db');
  const db = new Database(path);
  db.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada')");
  db.close();
  const before = sha256(path);
  await assert.rejects(Store.open(storeOptions(path)), { code: 'QP_ERR_STORE_CORRUPT' });
  assert.equal(sha256(path), before);
});

test('an unusable path is refused with QP_ERR_STORE_OPEN', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  await assert.rejects(Store.open(storeOptions(join(file, 'sub', 'qproxy.db'))), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'QP_ERR_STORE_OPEN');
    assert.match(err.message, /storage\.path/);
    return true;
  });
  // A folder where the file should be.
  await assert.rejects(Store.open(storeOptions(dir)), { code: 'QP_ERR_STORE_OPEN' });
  await assert.rejects(Store.open(storeOptions('relative/qproxy.db')), { code: 'QP_ERR_STORE_OPEN' });
});

test('reopening keeps records, meta and the seq counter; the file is in WAL mode', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'deep', 'er', 'qproxy.db');
  const first = await Store.open(storeOptions(path, { synchronous: 'full' }));
  const r = makeRecord();
  first.offer(r);
  await first.setMeta('sync.cursor', '1');
  await first.close();

  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();

  const second = await Store.open(storeOptions(path));
  t.after(() => second.close());
  assert.deepEqual(second.get(r.id), r);
  assert.equal(second.getMeta('sync.cursor'), '1');
  second.offer(makeRecord());
  await second.flush();
  assert.deepEqual(second.stats(), { count: 2, bytes: second.stats().bytes, queueDepth: 0, lastSeq: 2 });
});
