/**
 * kill -9 during sync, of the sender's process and of the receiver's: after a restart the
 * receiver holds exactly the sender's records — none missing, none twice. Each side runs as a
 * child process (fixtures/) so that SIGKILL hits a real process with a real store file.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaultRelay } from '../helpers/fault-relay.js';
import { Store } from '../../src/store/index.js';
import { allRecords, fill, httpRecord, openStore, senderOptions, startReceiver, startSender, storeOptions, tempDir, waitFor } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Starts a fixture and resolves with its first stdout line; killed after the test if still running. */
async function child(t: TestContext, fixture: string, args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, fixture), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${fixture} did not start within 20 s: ${err}`)), 20_000);
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${fixture} exited with ${code} before starting: ${err}`));
    });
  });
  return { proc, line };
}

async function kill9(proc: ChildProcess): Promise<void> {
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  await exited;
}

async function stop(proc: ChildProcess): Promise<void> {
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, 'graceful stop');
}

test('kill -9 of the sender mid-sync, then a restart: exactly the sender\'s records arrive', async (t) => {
  const dir = await tempDir(t);
  const aPath = join(dir, 'a.db');
  const total = 1500;
  const seed = await Store.open(storeOptions(aPath));
  await fill(seed, Array.from({ length: total }, (_, i) => httpRecord(i)));
  await seed.close();

  const b = await openStore(t, join(dir, 'b.db'));
  const { receiver, port } = await startReceiver(t, { store: b });
  const relay = await FaultRelay.start({ host: '127.0.0.1', port });
  t.after(() => relay.close());
  relay.bandwidth(300 * 1024);

  const first = await child(t, 'sender-child.ts', [aPath, String(relay.port)]);
  assert.equal(first.line, 'ready');
  await waitFor(() => b.stats().count >= 200, 'part of the records before the kill');
  await kill9(first.proc);
  const atKill = b.stats().count;
  assert.ok(atKill < total, 'killed mid-sync');

  relay.bandwidth(0);
  const second = await child(t, 'sender-child.ts', [aPath, String(relay.port)]);
  await waitFor(() => b.stats().count === total, () => `all records after the restart (has ${b.stats().count})`, 60_000);
  await stop(second.proc);

  const a = await openStore(t, aPath);
  assert.deepEqual([...allRecords(b).keys()].sort(), [...allRecords(a).keys()].sort(), 'none missing');
  assert.equal(b.stats().count, total, 'none twice');
  const cursor = (JSON.parse(a.getMeta('sync.sender') ?? '{}') as { cursor?: number }).cursor;
  assert.equal(cursor, a.stats().lastSeq, 'the cursor reached the end');
  const dup = receiver.status().ledger['az-a-1']!.duplicates;
  assert.ok(dup <= 200, `only what was in flight or unsaved at the kill was sent again (${dup})`);
});

test('kill -9 of the receiver mid-sync, then a restart on the same port: nothing acknowledged is lost', async (t) => {
  const dir = await tempDir(t);
  const bPath = join(dir, 'b.db');
  const total = 1500;
  const a = await openStore(t, join(dir, 'a.db'));
  await fill(a, Array.from({ length: total }, (_, i) => httpRecord(i)));

  const first = await child(t, 'receiver-child.ts', [bPath, '0']);
  const port = Number(first.line.split(' ')[1]);
  const relay = await FaultRelay.start({ host: '127.0.0.1', port });
  t.after(() => relay.close());
  relay.bandwidth(300 * 1024);
  const sender = await startSender(t, senderOptions(a, relay.port, { batch: { maxRecords: 20, maxBytes: 64 * 1024 }, streams: 2 }));
  await waitFor(() => sender.status().ledger.sent >= 200, 'part of the records acknowledged before the kill');
  await kill9(first.proc);
  const acked = sender.status().cursor;

  relay.bandwidth(0);
  const second = await child(t, 'receiver-child.ts', [bPath, String(port)]);
  assert.equal(second.line, `listening ${port}`);
  await waitFor(() => sender.status().pending.records === 0, 'the sender to finish after the receiver restart', 60_000);
  await stop(second.proc);

  const b = await openStore(t, bPath);
  const got = allRecords(b);
  assert.equal(got.size, total, 'none missing, none twice');
  assert.deepEqual([...got.keys()].sort(), [...allRecords(a).keys()].sort());
  // Everything acknowledged before the kill had been committed: it is all there, intact.
  for (const { record } of a.readAfter(0, acked)) assert.deepEqual(got.get(record.id), record);
});
