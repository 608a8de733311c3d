/**
 * recording.include / exclude / sample through the built binary on real sockets: what is skipped
 * is proxied as usual but never stored, keyed sampling keeps one user's exchanges together, and
 * every skip is counted by reason in /api/status and /metrics.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { keyFraction } from '../../src/recording/sampler.js';
import { httpRequest, poll, startCli, tempDir, type Started } from './helpers.js';

interface Summary {
  protocol: 'http' | 'tcp';
  method?: string;
  url?: string;
  client?: string;
}

interface Status {
  recording: { skipped: number; skipped_by_reason: Record<string, number> };
}

/** An HTTP backend (with a WebSocket echo) that answers with what it got, and a TCP echo server. */
async function backends(): Promise<{ http: string; tcp: string }> {
  const http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).length}`));
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  const echo = createTcpServer((s) => s.pipe(s));
  http.listen(0, '127.0.0.1');
  echo.listen(0, '127.0.0.1');
  await Promise.all([once(http, 'listening'), once(echo, 'listening')]);
  after(() => {
    wss.close();
    http.closeAllConnections();
    http.close();
    echo.close();
  });
  return { http: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, tcp: `127.0.0.1:${(echo.address() as AddressInfo).port}` };
}

async function startNode(dir: string, name: string, config: Record<string, unknown>): Promise<Started> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify({ mode: 'Record', node_id: name, api: { host: '127.0.0.1', port: 0 }, storage: { path: `${name}.db` }, ...config }));
  return startCli(path);
}

async function records(node: Started): Promise<Summary[]> {
  return (JSON.parse((await httpRequest(`${node.api}/api/records?limit=1000`)).body) as { records: Summary[] }).records;
}

async function status(node: Started): Promise<Status> {
  return JSON.parse((await httpRequest(`${node.api}/api/status`)).body) as Status;
}

/** One TCP session from `localAddress`: send, read the echo, close. */
async function tcpSession(target: string, localAddress: string, payload: string): Promise<string> {
  const [host, port] = target.split(':') as [string, string];
  const socket = connect({ host, port: Number(port), localAddress });
  await once(socket, 'connect');
  socket.end(payload);
  let got = '';
  socket.on('data', (c: Buffer) => (got += c.toString()));
  await once(socket, 'close');
  return got;
}

test('include / exclude rules skip what they leave out, for HTTP, upgrades and TCP, counted by reason', async () => {
  const dir = await tempDir();
  const down = await backends();
  const node = await startNode(dir, 'filters', {
    http: { host: '127.0.0.1', port: 0, downstream: down.http },
    tcp: { host: '127.0.0.1', port: 0, downstream: [down.tcp] },
    recording: {
      include: [{ paths: ['/api/**'] }, { protocol: 'tcp' }],
      exclude: [{ paths: ['/api/health'] }, { headers: { 'x-synthetic': true } }, { methods: ['OPTIONS'] }, { protocol: 'tcp', clients: ['127.0.0.2'] }],
    },
  });

  // Skipped: proxied as usual, bodies included.
  const big = 'x'.repeat(200_000);
  assert.equal((await httpRequest(`${node.http}/other`, { method: 'POST', body: big })).body, 'POST /other 200000');
  assert.equal((await httpRequest(`${node.http}/api/health`)).body, 'GET /api/health 0');
  assert.equal((await httpRequest(`${node.http}/api/orders`, { headers: { 'x-synthetic': '1' } })).status, 200);
  assert.equal((await httpRequest(`${node.http}/api/orders`, { method: 'OPTIONS' })).status, 200);
  const ws = new WebSocket(`${node.http.replace('http', 'ws')}/ws`);
  await once(ws, 'open');
  ws.send('hi');
  assert.equal(String(((await once(ws, 'message')) as [Buffer])[0]), 'hi');
  ws.close();
  await once(ws, 'close');
  assert.equal(await tcpSession(node.tcp!, '127.0.0.2', 'skipped'), 'skipped');

  // Recorded.
  assert.equal(await tcpSession(node.tcp!, '127.0.0.1', 'kept'), 'kept');
  assert.equal((await httpRequest(`${node.http}/api/orders/7`, { method: 'POST', body: '{"qty":1}' })).body, 'POST /api/orders/7 9');

  const want = { not_included: 2, excluded: 4, sampled_out: 0 };
  const st = await poll(() => status(node), (s) => JSON.stringify(s.recording.skipped_by_reason) === JSON.stringify(want));
  assert.deepEqual(st.recording.skipped_by_reason, want);
  assert.equal(st.recording.skipped, 6);

  // The recorded ones arrive after the skipped ones were handled, so nothing skipped can come later.
  const stored = await poll(() => records(node), (r) => r.length === 2);
  assert.deepEqual(stored.map((r) => `${r.protocol} ${r.method ?? ''} ${r.url ?? ''}`.trim()).sort(), ['http POST /api/orders/7', 'tcp']);
  assert.match(stored.find((r) => r.protocol === 'tcp')!.client!, /^(::ffff:)?127\.0\.0\.1:/);

  const metrics = (await httpRequest(`${node.api}/metrics`)).body;
  assert.match(metrics, /qproxy_recording_skipped_total\{protocol="http",reason="not_included"\} 2\n/);
  assert.match(metrics, /qproxy_recording_skipped_total\{protocol="http",reason="excluded"\} 3\n/);
  assert.match(metrics, /qproxy_recording_skipped_total\{protocol="tcp",reason="excluded"\} 1\n/);
  assert.match(metrics, /qproxy_recording_skipped_total\{protocol="tcp",reason="sampled_out"\} 0\n/);
});

test('sampling keyed by a header records each user whole or not at all, exactly as the hash says', async () => {
  const dir = await tempDir();
  const down = await backends();
  const rate = 0.4;
  const node = await startNode(dir, 'sampled', {
    http: { host: '127.0.0.1', port: 0, downstream: down.http },
    recording: { sample: { rate, header: 'x-user-id' } },
  });
  const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
  const kept = users.filter((u) => keyFraction(u) < rate);
  assert.ok(kept.length > 0 && kept.length < users.length, 'the fixture has users on both sides');
  const perUser = 3;
  for (let round = 0; round < perUser; round++) {
    for (const u of users) assert.equal((await httpRequest(`${node.http}/api/${u}/${round}`, { headers: { 'X-User-Id': u } })).status, 200);
  }

  const want = (users.length - kept.length) * perUser;
  const st = await poll(() => status(node), (s) => s.recording.skipped_by_reason.sampled_out === want);
  assert.equal(st.recording.skipped_by_reason.sampled_out, want);
  const stored = await poll(() => records(node), (r) => r.length === kept.length * perUser);
  const byUser = new Map<string, number>();
  for (const r of stored) {
    const u = r.url!.split('/')[2]!;
    byUser.set(u, (byUser.get(u) ?? 0) + 1);
  }
  assert.deepEqual([...byUser.keys()].sort(), [...kept].sort(), 'exactly the users the hash keeps');
  assert.ok([...byUser.values()].every((n) => n === perUser), 'each kept user with every exchange');
});
