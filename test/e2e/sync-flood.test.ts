/**
 * Issue 18 item 1, end to end: a Playback node whose file-handle limit is low (prlimit, for the
 * child process only) gets more silent connections on its sync port than it has handles. It must
 * warn and refuse sync connections before it runs out, keep its API answering, and take a real
 * Record node's batches once the flood's connections are closed at sync.auth_timeout.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openIdleClients } from '../helpers/idle-clients.js';
import { makeTestPki } from '../helpers/tls.js';
import { backend, httpRequest, poll, startCli, tempDir } from './helpers.js';

interface Status {
  records: { count: number };
  sync: { connections: { open: number; unauthenticated: number; refused: Record<string, number> }; file_handles: { open: number; limit: number } | null };
}

const FILE_LIMIT = 400;
const FLOOD = 600;

test('sync port flooded past the file-handle limit: the node warns and refuses, the API answers, a real peer still syncs', async () => {
  const dir = await tempDir();
  const pki = await makeTestPki();
  after(() => pki.cleanup());
  const token = 'flood-test-token';
  const playbackConfig = join(dir, 'playback.json');
  await writeFile(
    playbackConfig,
    JSON.stringify({
      mode: 'Playback',
      node_id: 'zone-b',
      // No connection caps: the file-handle guard is what must hold here.
      sync: {
        host: '127.0.0.1',
        port: 0,
        token,
        tls: { tls_cert: join(pki.dir, 'server.pem'), tls_key: join(pki.dir, 'server.key') },
        max_connections: 0,
        max_connections_per_address: 0,
        auth_timeout: '3s',
      },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'b.db') },
    }),
  );
  const b = await startCli(playbackConfig, { launcher: ['prlimit', `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`] });
  const syncPort = Number(b.sync!.split(':').pop());
  const statusOf = async (): Promise<Status> => JSON.parse((await httpRequest(`${b.api}/api/status`)).body) as Status;

  const flood = await openIdleClients(syncPort, FLOOD, { localAddress: '127.0.0.2', burst: 50 });
  after(() => flood.destroy());
  // The API itself reports the refusals: it answered while the sync port was saturated.
  const flooded = await poll(statusOf, (s) => (s.sync.connections.refused.fd_limit ?? 0) > 0, 200, 50);
  assert.ok(flooded.sync.connections.refused.fd_limit! > 0, JSON.stringify(flooded.sync));
  assert.equal(flooded.sync.file_handles?.limit, FILE_LIMIT);
  assert.equal((await httpRequest(`${b.api}/healthz`)).status, 200);
  const metrics = (await httpRequest(`${b.api}/metrics`)).body;
  assert.ok(Number(/qproxy_sync_connections_refused_total\{reason="fd_limit"\} (\d+)/.exec(metrics)?.[1]) > 0);
  assert.ok(
    b.stdout.some((l) => l.includes('"level":40') && l.includes('file handles')),
    'a warning says the process is short of file handles',
  );

  const zoneA = await backend();
  const recordConfig = join(dir, 'record.json');
  await writeFile(
    recordConfig,
    JSON.stringify({
      mode: 'Record',
      node_id: 'zone-a',
      http: { host: '127.0.0.1', port: 0, downstream: zoneA.url },
      peer: { host: 'localhost', port: syncPort, tls: true, token, ca: join(pki.dir, 'ca.pem'), backoff_max: '1s' },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'a.db') },
    }),
  );
  const a = await startCli(recordConfig);
  for (const path of ['/one', '/two', '/three']) assert.equal((await httpRequest(`${a.http}${path}`)).status, 200);
  const synced = await poll(statusOf, (s) => s.records.count === 3, 600, 50);
  assert.equal(synced.records.count, 3, `records in zone B: ${JSON.stringify(synced.sync)}`);

  // Every flood connection the node saw was refused or closed at the deadline; none is held.
  const settled = await poll(statusOf, (s) => s.sync.connections.unauthenticated === 0, 200, 50);
  assert.equal(settled.sync.connections.unauthenticated, 0);
  // Hundreds of refusals, a handful of log lines.
  const refusalLines = b.stdout.filter((l) => /sync connections? refused/.test(l)).length;
  assert.ok(refusalLines >= 1 && refusalLines <= 4, `refusal log lines: ${refusalLines}`);
});
