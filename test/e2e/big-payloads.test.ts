/**
 * Large payloads end to end with real processes: a 50 MiB request body and a large TCP session are
 * recorded by a Record node, synced to a Playback node, and replayed live against zone B, whose
 * servers hash what they receive: the bytes must arrive exactly as the client sent them in zone A.
 *
 * The TCP session is 64 MiB here; `QPROXY_E2E_TCP_BYTES=1GiB npm run test:big` runs it with a
 * 1 GiB session (several minutes on two cores, so not part of `npm test`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { parseSize } from '../../src/config/units.js';
import { httpRequest, poll, startCli, tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const HTTP_BYTES = 50 * MiB;
const TCP_BYTES = parseSize(process.env.QPROXY_E2E_TCP_BYTES ?? '64MiB') ?? 64 * MiB;
const PIECE = 256 * 1024;

/** Deterministic bytes: piece i of a stream named `name` (sha256 blocks of a counter). */
function piece(name: string, i: number): Buffer {
  const out = Buffer.allocUnsafe(PIECE);
  const h = createHash('sha256').update(`${name}:${i}`).digest();
  for (let at = 0; at < PIECE; at += 32) {
    h.copy(out, at);
    h[at % 32] = (h[at % 32]! + 1) & 0xff;
  }
  return out;
}

function shaOfStream(name: string, bytes: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i * PIECE < bytes; i++) hash.update(piece(name, i).subarray(0, Math.min(PIECE, bytes - i * PIECE)));
  return hash.digest('hex');
}

/** An HTTP server that answers each request with the sha256 and size of its body. */
async function hashingHttp(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
    });
    req.on('end', () => {
      const sha = hash.digest('hex');
      seen.push(sha);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sha, bytes: n }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** A TCP server that reads `bytes` bytes, answers their sha256 (hex) and closes. */
async function hashingTcp(bytes: number): Promise<{ target: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (s: Socket) => {
    const hash = createHash('sha256');
    let n = 0;
    s.on('data', (c: Buffer) => {
      const take = c.subarray(0, Math.max(0, bytes - n));
      hash.update(take);
      n += c.length;
      if (n >= bytes && take.length > 0) {
        const sha = hash.digest('hex');
        seen.push(sha);
        s.end(sha);
      }
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return { target: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function sendTcpSession(hostPort: string, name: string, bytes: number): Promise<string> {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  const s = connect({ host, port, allowHalfOpen: true });
  await once(s, 'connect');
  const reply: Buffer[] = [];
  s.on('data', (c: Buffer) => reply.push(c));
  s.on('end', () => s.end());
  const closed = once(s, 'close');
  for (let i = 0; i * PIECE < bytes; i++) {
    const p = piece(name, i).subarray(0, Math.min(PIECE, bytes - i * PIECE));
    if (!s.write(p)) await once(s, 'drain');
  }
  await closed;
  return Buffer.concat(reply).toString();
}

interface Status {
  records: { count: number };
  recording: { dropped: number };
  playback: { replayed: number; matched: number; mismatched: number; failed: number };
}

test(`a ${HTTP_BYTES / MiB} MiB body and a ${TCP_BYTES / MiB} MiB TCP session go record → sync → replay byte for byte`, async () => {
  const dir = await tempDir();
  const zoneA = await hashingHttp();
  const zoneB = await hashingHttp();
  const tcpA = await hashingTcp(TCP_BYTES);
  const tcpB = await hashingTcp(TCP_BYTES);
  const token = 'big-payloads';

  const playbackConfig = join(dir, 'playback.json');
  await writeFile(
    playbackConfig,
    JSON.stringify({
      mode: 'Playback',
      node_id: 'zone-b',
      http: { host: '127.0.0.1', port: 0, downstream: zoneB.url },
      tcp: { host: '127.0.0.1', port: 0, downstream: [tcpB.target] },
      sync: { host: '127.0.0.1', port: 0, token, max_batch_bytes: '128MiB' },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'b.db') },
      playback: { live: { enabled: true, delay: '0ms' }, safety: { unsafe_methods: 'replay' }, timeout: '120s', tcp: { reply_timeout: '120s' } },
      log: { level: 'warn' },
    }),
  );
  const b = await startCli(playbackConfig);
  const syncPort = Number(b.sync!.split(':').pop());

  const recordConfig = join(dir, 'record.json');
  await writeFile(
    recordConfig,
    JSON.stringify({
      mode: 'Record',
      node_id: 'zone-a',
      http: { host: '127.0.0.1', port: 0, downstream: zoneA.url },
      tcp: { host: '127.0.0.1', port: 0, downstream: [tcpA.target], recording: { max_session_bytes: TCP_BYTES + MiB, on_overload: 'backpressure' } },
      peer: { host: '127.0.0.1', port: syncPort, tls: false, token },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'a.db'), max_body: '64MiB', queue_max_bytes: '128MiB' },
      log: { level: 'warn' },
    }),
  );
  const a = await startCli(recordConfig);
  const status = async (node: { api: string }): Promise<Status> => JSON.parse((await httpRequest(`${node.api}/api/status`)).body) as Status;

  const httpSha = shaOfStream('http', HTTP_BYTES);
  const body = Buffer.concat(Array.from({ length: HTTP_BYTES / PIECE }, (_, i) => piece('http', i)));
  const answer = await httpRequest(`${a.http}/upload`, { method: 'POST', body: body as unknown as string, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(answer.status, 200);
  assert.equal((JSON.parse(answer.body) as { sha: string }).sha, httpSha);

  const tcpSha = shaOfStream('tcp', TCP_BYTES);
  assert.equal(await sendTcpSession(a.tcp!, 'tcp', TCP_BYTES), tcpSha, 'zone A got the session byte for byte');

  const replayed = await poll(() => status(b), (s) => s.playback.replayed >= 2, 1200, 250);
  assert.equal(replayed.records.count, 2);
  assert.equal((await status(a)).recording.dropped, 0);
  assert.deepEqual(zoneB.seen, [httpSha], 'the replayed body reached zone B byte for byte');
  assert.deepEqual(tcpB.seen, [tcpSha], 'the replayed TCP session reached zone B byte for byte');
  assert.equal(replayed.playback.matched, 2, `both answers match the recording: ${JSON.stringify(replayed.playback)}`);

  for (const node of [a, b]) {
    node.child.kill('SIGTERM');
    const [code] = (await once(node.child, 'exit')) as [number | null];
    assert.equal(code, 0, node.stderr.join(''));
  }
});
