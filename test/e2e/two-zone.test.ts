/**
 * The product's whole point, end to end with real processes: a Record node in "zone A" records
 * traffic to backend A and streams it over HTTP/2 + TLS (token-authenticated) to a Playback node in
 * "zone B", which replays it live against backend B and compares the answers. Backend B differs on
 * purpose in one endpoint, so exactly one mismatch must be reported.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTestPki } from '../helpers/tls.js';
import { backend, httpRequest, poll, startCli, tempDir } from './helpers.js';

interface Status {
  records: { count: number };
  sync: Record<string, unknown>;
  playback: { replayed: number; matched: number; mismatched: number; failed: number; success_rate: number | null };
}

test('Record node → TLS sync → Playback node → live replay → success rate in /api/status', async () => {
  const dir = await tempDir();
  const pki = await makeTestPki();
  after(() => pki.cleanup());
  const zoneB = await backend((req, body, res) => {
    res.setHeader('content-type', 'application/json');
    // Zone B's /price answers differently: the replay must flag exactly this one.
    const price = req.url === '/price' ? 12 : 10;
    res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString(), ...(req.url?.startsWith('/price') ? { price } : {}) }));
  });
  const zoneA = await backend((req, body, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString(), ...(req.url?.startsWith('/price') ? { price: 10 } : {}) }));
  });

  const token = 'zone-link-token';
  const playbackConfig = join(dir, 'playback.json');
  await writeFile(
    playbackConfig,
    JSON.stringify({
      mode: 'Playback',
      node_id: 'zone-b',
      http: { host: '127.0.0.1', port: 0, downstream: zoneB.url },
      sync: { host: '127.0.0.1', port: 0, token, tls: { tls_cert: join(pki.dir, 'server.pem'), tls_key: join(pki.dir, 'server.key') } },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'b.db') },
      // Writes are dry-run by default in zone B; this test opts in to replaying them.
      playback: { live: { enabled: true, delay: '0ms' }, safety: { unsafe_methods: 'replay' } },
      log: { level: 'warn' },
    }),
  );
  const b = await startCli(playbackConfig);
  assert.ok(b.sync, 'the Playback node reports its sync address');
  const syncPort = Number(b.sync.split(':').pop());

  const recordConfig = join(dir, 'record.json');
  await writeFile(
    recordConfig,
    JSON.stringify({
      mode: 'Record',
      node_id: 'zone-a',
      http: { host: '127.0.0.1', port: 0, downstream: zoneA.url },
      peer: { host: 'localhost', port: syncPort, tls: true, token, ca: join(pki.dir, 'ca.pem') },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'a.db') },
    }),
  );
  const a = await startCli(recordConfig);

  assert.equal((await httpRequest(`${a.http}/items/1`)).status, 200);
  assert.equal((await httpRequest(`${a.http}/orders`, { method: 'POST', body: '{"qty":2}', headers: { 'content-type': 'application/json' } })).status, 200);
  assert.equal((await httpRequest(`${a.http}/price`)).status, 200);

  const statusOf = async (node: { api: string }): Promise<Status> => JSON.parse((await httpRequest(`${node.api}/api/status`)).body) as Status;
  const bStatus = await poll(() => statusOf(b), (s) => s.playback.replayed >= 3, 400, 50);
  assert.equal(bStatus.records.count, 3, 'all three records reached zone B');
  assert.equal(bStatus.playback.replayed, 3);
  assert.equal(bStatus.playback.matched, 2);
  assert.equal(bStatus.playback.mismatched, 1, 'only /price differs in zone B');
  assert.ok(bStatus.playback.success_rate !== null && Math.abs(bStatus.playback.success_rate - 2 / 3) < 1e-3, `success_rate ${bStatus.playback.success_rate}`);

  // The same ids on both sides: nothing lost, nothing twice.
  const ids = async (node: { api: string }): Promise<string[]> =>
    ((JSON.parse((await httpRequest(`${node.api}/api/records?limit=100`)).body) as { records: Array<{ id: string }> }).records.map((r) => r.id)).sort();
  assert.deepEqual(await ids(b), await ids(a));

  for (const node of [a, b]) {
    node.child.kill('SIGTERM');
    const [code] = (await once(node.child, 'exit')) as [number | null];
    assert.equal(code, 0, `clean exit; stderr: ${node.stderr.join('')}`);
  }
});
