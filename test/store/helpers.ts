import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { BroadcastChannel } from 'node:worker_threads';
import type { HttpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { Store } from '../../src/store/index.js';
import type { StoreObserver, StoreOptions } from '../../src/store/index.js';
import { FrameKind, SEGMENT_HEADER_BYTES, readFrame, segmentFileName, segmentIdOf } from '../../src/store/segment-format.js';

/** A complete HttpRecord; `over` replaces top-level fields. */
export function makeRecord(over: Partial<HttpRecord> = {}): HttpRecord {
  const startedAt = over.started_at ?? Date.now();
  return {
    v: 1,
    id: uuidv7(startedAt),
    protocol: 'http',
    node_id: 'az-a-1',
    started_at: startedAt,
    duration_ms: 12.345,
    client: { address: '127.0.0.1', port: 50123 },
    tls: null,
    downstream: 'http://127.0.0.1:8081',
    request: {
      method: 'POST',
      url: '/orders?id=7',
      http_version: '1.1',
      headers: [
        ['Host', 'shop.example'],
        ['X-Trace', 'a'],
        ['content-type', 'application/octet-stream'],
        ['X-Trace', 'b'],
      ],
      body: { data: Buffer.from('hello'), size: 5, truncated: false },
      trailers: [],
    },
    response: {
      status: 201,
      status_message: 'Created',
      http_version: '1.1',
      headers: [['Content-Length', '2']],
      body: { data: Buffer.from('ok'), size: 2, truncated: false },
      trailers: [],
    },
    status: 201,
    timings: { request_end: 1.5, response_start: 9.25, response_end: 12.345 },
    error: null,
    redacted: [],
    ...over,
  };
}

export function binary(n: number): Buffer {
  return randomBytes(n);
}

/** Counts every observer call, for assertions. */
export class CountingObserver implements StoreObserver {
  storedCount = 0;
  storedBytes = 0;
  drops: Record<string, number> = {};
  purges: Record<string, { count: number; bytes: number }> = {};
  stored(count: number, bytes: number): void {
    this.storedCount += count;
    this.storedBytes += bytes;
  }
  dropped(reason: string, count: number): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + count;
  }
  purged(reason: string, count: number, bytes: number): void {
    const p = (this.purges[reason] ??= { count: 0, bytes: 0 });
    p.count += count;
    p.bytes += bytes;
  }
}

/** Collects log calls by level. */
export class MemoryLogger {
  lines: Array<{ level: string; obj: object; msg: string }> = [];
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  count(level: string, includes: string): number {
    return this.lines.filter((l) => l.level === level && l.msg.includes(includes)).length;
  }
}

/** Every frame of every segment of the store at `path`, in file order (checksums checked). */
export function segmentFrames(path: string): Array<{ seg: number; off: number; kind: keyof typeof FrameKind; length: number; payload: Buffer }> {
  const dir = `${path}.segments`;
  const names: Record<number, keyof typeof FrameKind> = {};
  for (const [name, n] of Object.entries(FrameKind)) names[n] = name as keyof typeof FrameKind;
  const out: Array<{ seg: number; off: number; kind: keyof typeof FrameKind; length: number; payload: Buffer }> = [];
  for (const name of readdirSync(dir).sort()) {
    const seg = segmentIdOf(name);
    if (seg === null) continue;
    const buf = readFileSync(join(dir, name));
    for (let at = SEGMENT_HEADER_BYTES; at < buf.byteLength; ) {
      const f = readFrame(buf, at);
      if (typeof f === 'string') throw new Error(`segment ${seg} offset ${at}: ${f}`);
      out.push({ seg, off: at, kind: names[f.kind]!, length: f.payload.byteLength, payload: f.payload });
      at += 12 + f.payload.byteLength;
    }
  }
  return out;
}

/** A fresh temp folder, removed after the test. */
/** Flips one byte `at` bytes into record `id`'s extent in the store at `path` (negative: from the extent's end). */
export function flipExtentByte(path: string, id: string, at: number): void {
  const db = new Database(path, { readonly: true });
  const row = db.prepare('SELECT seg, off, len FROM records WHERE id = ?').get(id) as { seg: number; off: number; len: number };
  db.close();
  const fd = openSync(join(`${path}.segments`, segmentFileName(row.seg)), 'r+');
  try {
    const pos = row.off + (at < 0 ? row.len + at : at);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, pos);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
}

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function storeOptions(path: string, over: Partial<StoreOptions> = {}): StoreOptions {
  return {
    path,
    retentionMs: 0,
    maxSizeBytes: 0,
    flushIntervalMs: 20,
    synchronous: 'normal',
    queueMaxRecords: 10_000,
    queueMaxBytes: 256 * 1024 * 1024,
    purgeIntervalMs: 60_000,
    ...over,
  };
}

/** Opens a store in a fresh temp folder and closes it after the test. */
export async function openStore(
  t: TestContext,
  over: Partial<StoreOptions> = {},
): Promise<{ store: Store; path: string; dir: string }> {
  const dir = await tempDir(t);
  const path = join(dir, 'nested', 'qproxy.db');
  const store = await Store.open(storeOptions(path, over));
  t.after(() => store.close());
  return { store, path, dir };
}

/** Polls `check` until it returns true; fails after `tries` turns of 20 ms (20 s: a loaded machine purges slowly). */
export async function waitFor(check: () => boolean, what: string, tries = 1000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * Faults a test causes in a store's writer thread from outside (fixtures/faulty-writer.ts runs the
 * real writer and takes these over a BroadcastChannel). Pass `entry` as `StoreOptions.writerEntry`.
 */
export class WriterFaults {
  readonly entry: URL;
  private readonly channel: BroadcastChannel;
  private nextId = 1;

  constructor(t: TestContext) {
    const name = `qproxy-writer-faults-${randomUUID()}`;
    this.entry = new URL(`./fixtures/faulty-writer.ts?faults=${name}`, import.meta.url);
    this.channel = new BroadcastChannel(name);
    t.after(() => this.channel.close());
  }

  /** The writer thread dies at once. */
  crash(): void {
    this.channel.postMessage({ op: 'crash' });
  }

  /** The writer thread dies when the next record batch reaches it, so that batch is lost with it. */
  crashOnNextBatch(): Promise<void> {
    return this.request({ op: 'crash-on-batch' });
  }

  /** After `skip` more sync ingests the next one fails inside its transaction (once). */
  failIngest(skip: number): Promise<void> {
    return this.request({ op: 'fail-ingest', skip });
  }

  /** After `skip` more sync ingests the writer thread dies with the next one in hand (before its commit). */
  crashOnIngest(skip: number): Promise<void> {
    return this.request({ op: 'crash-on-ingest', skip });
  }

  /** Every write of the writer's connection fails with SQLITE_READONLY (on), or succeeds again (off). */
  readOnly(on: boolean): Promise<void> {
    return this.request({ op: 'read-only', on });
  }

  private request(msg: object): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.channel.removeEventListener('message', onMessage);
        reject(new Error(`the store writer did not take the fault ${JSON.stringify(msg)} within 20 s`));
      }, 20_000);
      const onMessage = (event: Event): void => {
        if (((event as MessageEvent).data as { done?: number }).done !== id) return;
        clearTimeout(timer);
        this.channel.removeEventListener('message', onMessage);
        resolve();
      };
      this.channel.addEventListener('message', onMessage);
      this.channel.postMessage({ ...msg, id });
    });
  }
}

/** A fresh tmpfs of `size` bytes, unmounted after the test; or why there cannot be one. */
export function mountTmpfs(size: number): { dir: string; unmount(): void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'qproxy-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return `cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): ${why}`;
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
