/**
 * kill -9 of a process recording into a real store, 20 times in a row on the same files: after
 * each kill the store opens (cutting what was written after the last group commit), every index
 * row reads back with valid checksums and the exact bytes, and every record the child saw
 * committed is there. The child (fixtures/record-loop.mjs) derives each record's bytes from its id.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { QRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { Store } from '../../src/store/index.js';
import { MemoryLogger, storeOptions, tempDir } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/record-loop.mjs', import.meta.url));
const ROUNDS = 20;

function bodyOf(id: string, size: number): Buffer {
  const seed = createHash('sha256').update(id).digest();
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 32) seed.copy(out, i, 0, Math.min(32, size - i));
  return out;
}

/** Runs the child until it has committed a few times, then SIGKILLs it mid-write. */
async function recordAndKill(path: string, session: string, killAfterMs: number): Promise<{ committed: string[]; tcpChunks: number }> {
  const child = spawn(process.execPath, [FIXTURE, path, session], { stdio: ['ignore', 'pipe', 'pipe'] });
  const committed: string[] = [];
  let tcpChunks = 0;
  let stderr = '';
  let buf = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const fail = setTimeout(() => reject(new Error(`the recording child did not start: ${stderr}`)), 30_000);
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          clearTimeout(fail);
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, killAfterMs);
        } else if (line.startsWith('committed ')) {
          const [ids, tcp] = line.slice('committed '.length).split(' ');
          committed.push(...ids!.split(','));
          tcpChunks = Number(tcp!.slice('tcp='.length));
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the recording child exited by itself (${code}): ${stderr}`));
    });
  });
  await exited;
  return { committed, tcpChunks };
}

function checkRecord(r: QRecord, sessions: ReadonlyMap<string, number>): void {
  if (r.protocol === 'http') {
    const h = r;
    const size = Number(h.request.headers[0]![1]);
    assert.ok(h.request.body.data.equals(bodyOf(h.id, size)), `request body of ${h.id}`);
    assert.ok(h.response!.body.data.equals(bodyOf(`${h.id}r`, 64)), `response body of ${h.id}`);
    return;
  }
  const s = r;
  const committed = sessions.get(s.id) ?? 0;
  assert.ok(s.chunks.length >= committed, `session ${s.id}: ${s.chunks.length} chunks, ${committed} committed`);
  s.chunks.forEach((c, i) => assert.ok(c.data.equals(bodyOf(`${s.id}:${i}`, 3000)), `chunk ${i} of session ${s.id}`));
}

test(`kill -9 of a recording process ${ROUNDS} times: every index row reads back checksum-valid and every committed record survives`, async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const sessions = new Map<string, number>();
  const committed = new Set<string>();
  let cuts = 0;
  let cutBytes = 0;
  let verified = 0;
  let lastSeq = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const session = uuidv7();
    const run = await recordAndKill(path, session, 100 + ((round * 97) % 300));
    for (const id of run.committed) committed.add(id);
    sessions.set(session, run.tcpChunks);

    let damaged = 0;
    const logger = new MemoryLogger();
    const store = await Store.open(
      storeOptions(path, {
        logger,
        segmentBytes: 1024 * 1024,
        observer: {
          stored() {},
          dropped() {},
          purged() {},
          tailCut(bytes) {
            cuts++;
            cutBytes += bytes;
          },
          damaged(n) {
            damaged += n;
          },
        },
      }),
    );
    try {
      // Every row written since the last round (and the sessions, which grow) reads back whole.
      const all = [];
      for (let seq = 0; ; ) {
        const page = store.readAfter(seq, 200);
        if (page.length === 0) break;
        for (const p of page) {
          seq = p.seq;
          if (p.seq > lastSeq || p.record.protocol === 'tcp') all.push(p.record);
        }
      }
      for (const r of all) checkRecord(r, sessions);
      verified += all.length;
      assert.equal(damaged, 0, 'no index row points at damaged or missing bytes');
      for (const id of run.committed) assert.ok(store.get(id) !== null, `committed record ${id} survived the kill`);
      lastSeq = store.stats().lastSeq;
    } finally {
      await store.close();
    }
  }
  // Finally: every record committed in any round is still indexed (their bytes were checked above).
  const store = await Store.open(storeOptions(path, { segmentBytes: 1024 * 1024 }));
  try {
    const ids = new Set<string>();
    for (let cursor: string | undefined; ; ) {
      const page = store.list({ limit: 1000, ...(cursor !== undefined && { cursor }) });
      for (const r of page.records) ids.add(r.id);
      if (page.next === null) break;
      cursor = page.next;
    }
    for (const id of committed) assert.ok(ids.has(id), `committed record ${id}`);
  } finally {
    await store.close();
  }
  t.diagnostic(`${committed.size} committed records checked, ${verified} rows read after kills, ${cuts} torn tails cut (${cutBytes} bytes)`);
});
