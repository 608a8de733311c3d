/**
 * The real `qproxy` binary with the NATS backend: a Record node publishes what it proxies, a
 * Playback node consumes it; the Playback process is killed with SIGKILL mid-stream and started
 * again on the same store, and resumes from its durable consumer with nothing lost or doubled.
 * Needs `npm run build` (dist/cli.js).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { backend, httpRequest, poll, startCli, tempDir } from '../e2e/helpers.js';
import { startNatsServer } from '../helpers/nats-server.js';

interface Status {
  records: { count: number };
  sync: { backend?: string; connected?: boolean; durable?: string; received?: { stored: number }; cursor?: number; pending?: { records: number | null } };
}

async function status(api: string): Promise<Status> {
  return JSON.parse((await httpRequest(`${api}/api/status`)).body) as Status;
}

test('qproxy Record → NATS → qproxy Playback, Playback killed -9 and restarted: resumes from its durable', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir();
  const up = await backend();
  const natsSection = { servers: nats.url, backoff_initial: '20ms', backoff_max: '500ms', ack_wait: '2s' };
  const playbackPath = join(dir, 'playback.json');
  await writeFile(
    playbackPath,
    JSON.stringify({ mode: 'Playback', node_id: 'zone-b', api: { host: '127.0.0.1', port: 0 }, storage: { path: join(dir, 'b.db') }, nats: natsSection, log: { level: 'warn' } }),
  );
  const recordPath = join(dir, 'record.json');
  await writeFile(
    recordPath,
    JSON.stringify({
      mode: 'Record',
      node_id: 'zone-a',
      http: { host: '127.0.0.1', port: 0, downstream: up.url },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'a.db'), flush_interval: '20ms' },
      nats: natsSection,
      log: { level: 'warn' },
    }),
  );
  const a = await startCli(recordPath);
  let b = await startCli(playbackPath);
  assert.equal(b.sync, null, 'a Playback node on NATS opens no sync listener');

  for (let i = 0; i < 30; i++) assert.equal((await httpRequest(`${a.http}/items/${i}`)).status, 200);
  await poll(() => status(b.api), (s) => s.records.count >= 10);
  const sent = Promise.all(Array.from({ length: 30 }, (_, i) => httpRequest(`${a.http}/more/${i}`)));
  b.child.kill('SIGKILL');
  await new Promise((resolve) => b.child.once('exit', resolve));
  assert.ok((await sent).every((r) => r.status === 200));

  b = await startCli(playbackPath);
  const done = await poll(() => status(b.api), (s) => s.records.count === 60 && s.sync.pending?.records === 0, 400, 50);
  assert.equal(done.records.count, 60, 'every exchange reached zone B once');
  assert.equal(done.sync.backend, 'nats');
  assert.equal(done.sync.durable, 'qproxy-zone-b');
  const aStatus = await poll(() => status(a.api), (s) => s.sync.pending?.records === 0);
  assert.equal(aStatus.sync.backend, 'nats');
  assert.equal(aStatus.sync.connected, true);

  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  assert.equal((await jsm.streams.info('QPROXY')).state.messages, 60, 'each record is in the stream once');
  const ci = await poll(() => jsm.consumers.info('QPROXY', 'qproxy-zone-b'), (c) => c.num_ack_pending === 0 && c.num_pending === 0);
  assert.equal(ci.num_pending + ci.num_ack_pending, 0, 'the durable has nothing left to deliver or acknowledge');
  const metrics = (await httpRequest(`${b.api}/metrics`)).body;
  assert.match(metrics, /^qproxy_sync_connected 1$/m);
});
