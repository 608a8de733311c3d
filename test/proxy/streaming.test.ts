import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { patternBytes, patternSha256, startEchoBackend } from '../helpers/backend.js';
import type { Echo, EchoBackend } from '../helpers/backend.js';
import { startProxy, waitFor } from './harness.js';

/**
 * 50 MiB each way through the proxy with a slow reader on the far side, so that only working
 * backpressure keeps the proxy's memory flat. The proxy runs in a child process (this same file,
 * started with QP_STREAM_CHILD=1 and --expose-gc) that samples its live memory after forced GCs;
 * the parent runs the backend and the client. Streaming itself is proven without clocks: the
 * backend must see upload bytes, and the client download bytes, before the other side finished.
 */

const SIZE = 50 * 1024 * 1024;
const MAX_BODY = 1024 * 1024;
const MIB = 1024 * 1024;
/** The slow readers pause this long after this many bytes: far slower than the proxy can move data. */
const PAUSE_EVERY = 256 * 1024;
const PAUSE_MS = 4;
/** Allowed growth of the proxy's live memory (heap + buffers) over its idle baseline. */
const MEMORY_BUDGET = 24 * MIB;

interface ChildReport {
  peakGrowth: number;
  drafts: { url: string; reqSize: number; reqKept: number; reqTruncated: boolean; resSize: number; resKept: number; resTruncated: boolean; status: number | null }[];
}

if (process.env.QP_STREAM_CHILD === '1') {
  await runProxyChild(process.env.QP_BACKEND!);
} else {
  describe('streaming 50 MiB bodies with bounded memory', () => {
    let backend: EchoBackend;
    let child: ChildProcess;
    let port = 0;
    let upReceived = 0;
    let downDelivered = 0;

    /** Reads slowly, so the proxy would pile up bytes without backpressure. */
    const slowUpload = (req: IncomingMessage, res: ServerResponse): void => {
      const hash = createHash('sha256');
      let sincePause = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        upReceived += c.length;
        sincePause += c.length;
        if (sincePause >= PAUSE_EVERY) {
          sincePause = 0;
          req.pause();
          setTimeout(() => req.resume(), PAUSE_MS);
        }
      });
      req.on('end', () => {
        const json = JSON.stringify({ bodyLength: upReceived, sha256: hash.digest('hex') });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
        res.end(json);
      });
    };

    /** Sends one MiB, waits until the client has it (proof of streaming), then the rest with backpressure. */
    const gatedDownload = (req: IncomingMessage, res: ServerResponse): void => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': SIZE });
      const chunk = patternBytes(64 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < SIZE) {
          if (sent === MIB && downDelivered < MIB) {
            void waitFor(() => downDelivered >= MIB, 'the client to receive the first MiB before the rest is sent', 2000).then(pump, (err: Error) => res.destroy(err));
            return;
          }
          const len = Math.min(chunk.length, SIZE - sent);
          sent += len;
          if (!res.write(len === chunk.length ? chunk : chunk.subarray(0, len))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };

    before(async () => {
      backend = await startEchoBackend({
        route: (req, res) => {
          if (req.url === '/up') slowUpload(req, res);
          else if (req.url === '/down') gatedDownload(req, res);
          else return false;
          return true;
        },
      });
      child = fork(fileURLToPath(import.meta.url), [], {
        execArgv: ['--import', 'tsx', '--expose-gc'],
        env: { ...process.env, QP_STREAM_CHILD: '1', QP_BACKEND: backend.origin },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const [msg] = (await once(child, 'message')) as [{ port: number }];
      port = msg.port;
    });
    after(async () => {
      if (child.exitCode === null) {
        child.kill();
        await once(child, 'exit');
      }
      await backend.close();
    });

    it('streams a 50 MiB upload byte-exact, the backend reading before the client finished', async () => {
      const hash = createHash('sha256');
      const chunk = patternBytes(64 * 1024);
      const answer = await new Promise<string>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/up', agent: false, headers: { 'Content-Length': SIZE } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        void (async () => {
          for (let sent = 0; sent < SIZE; sent += chunk.length) {
            if (sent === 2 * MIB) await waitFor(() => upReceived > 0, 'the backend to see upload bytes while the client is still sending');
            hash.update(chunk);
            if (!req.write(chunk)) await once(req, 'drain');
          }
          req.end();
        })().catch(reject);
      });
      const echo = JSON.parse(answer) as Pick<Echo, 'bodyLength' | 'sha256'>;
      assert.equal(echo.bodyLength, SIZE);
      assert.equal(echo.sha256, hash.digest('hex'));
    });

    it('streams a 50 MiB download byte-exact to a slow reader', async () => {
      const hash = createHash('sha256');
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/down', agent: false }, (res) => {
          let sincePause = 0;
          res.on('data', (c: Buffer) => {
            hash.update(c);
            downDelivered += c.length;
            sincePause += c.length;
            if (sincePause >= PAUSE_EVERY) {
              sincePause = 0;
              res.pause();
              void delay(PAUSE_MS).then(() => res.resume());
            }
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
      assert.equal(downDelivered, SIZE);
      assert.equal(hash.digest('hex'), patternSha256(SIZE));
    });

    it('kept the proxy memory flat and the recorded bodies at max_body, marked truncated', async () => {
      child.send('report');
      const [report] = (await once(child, 'message')) as [ChildReport];
      assert.ok(report.peakGrowth < MEMORY_BUDGET, `proxy live memory grew by ${(report.peakGrowth / MIB).toFixed(1)} MiB`);
      const up = report.drafts.find((d) => d.url === '/up');
      const down = report.drafts.find((d) => d.url === '/down');
      assert.deepEqual(
        { size: up?.reqSize, kept: up?.reqKept, truncated: up?.reqTruncated, status: up?.status },
        { size: SIZE, kept: MAX_BODY, truncated: true, status: 200 },
      );
      assert.deepEqual({ size: down?.resSize, kept: down?.resKept, truncated: down?.resTruncated }, { size: SIZE, kept: MAX_BODY, truncated: true });
    });
  });
}

/** The child: a proxy to `backend` whose live memory is sampled after forced GCs until asked to report. */
async function runProxyChild(backend: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the streaming child needs --expose-gc');
  const { CollectingRecorder } = await import('./harness.js');
  const recorder = new CollectingRecorder(true, MAX_BODY);
  const px = await startProxy(backend, { recorder });
  const live = (): number => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const baseline = live();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, live())), 25);
  process.on('message', (msg) => {
    if (msg !== 'report') return;
    clearInterval(sampler);
    const report: ChildReport = {
      peakGrowth: peak - baseline,
      drafts: recorder.drafts.map((d) => ({
        url: d.request.url,
        reqSize: d.request.body.size,
        reqKept: d.request.body.data.length,
        reqTruncated: d.request.body.truncated,
        resSize: d.response?.body.size ?? -1,
        resKept: d.response?.body.data.length ?? -1,
        resTruncated: d.response?.body.truncated ?? false,
        status: d.status,
      })),
    };
    process.send!(report, () => {
      void px.close().then(() => process.disconnect());
    });
  });
  process.send!({ port: px.port });
}
