/**
 * tcp.recording.on_overload "backpressure": with a store queue far smaller than what the relay
 * moves, the session's sockets pause while the store is congested, and every byte is recorded.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { TcpRecord } from '../../src/recording/model.js';
import { BulkPattern, closed, connectClient, hashUntilEnd, joined, openStore, readAll, sendPattern, startBackend, startProxy, waitFor } from './helpers.js';

const MiB = 1024 * 1024;

test('backpressure: the relay waits for the store instead of shedding; the session is recorded byte for byte', async (t) => {
  const drops: Record<string, number> = {};
  // 1 MiB of queue for 24 MiB moving at loopback speed: without backpressure most would be shed.
  const store = await openStore(t, {
    queueMaxBytes: 1 * MiB,
    observer: {
      stored() {},
      purged() {},
      dropped(reason, count) {
        drops[reason] = (drops[reason] ?? 0) + count;
      },
    },
  });
  let paused = 0;
  const up = new BulkPattern(24 * MiB);
  const server: { got?: Promise<{ bytes: number; sha256: string }> } = {};
  const backend = await startBackend(t, (s: Socket) => {
    server.got = hashUntilEnd(s);
    s.end('done');
  });
  const h = await startProxy(t, {
    targets: [backend.target],
    sink: store,
    recording: {
      maxSessionBytes: 64 * MiB,
      segmentBytes: 64 * 1024,
      onOverload: 'backpressure',
      observer: {
        dropped(reason, count) {
          drops[`recorder:${reason}`] = count;
        },
        paused() {
          paused++;
        },
      },
    },
  });
  const c = await connectClient(h.port, true);
  const reply = readAll(c);
  await sendPattern(c, up, true);
  await waitFor(() => server.got !== undefined, 'the backend connection');
  const atServer = await server.got!;
  assert.equal((await reply).toString(), 'done');
  await closed(c);
  assert.equal(atServer.bytes, 24 * MiB);
  assert.equal(atServer.sha256, up.sha256());

  await waitFor(() => h.proxy.inFlight === 0, 'the session to end');
  await store.flush();
  assert.deepEqual(drops, {}, 'nothing was shed');
  assert.ok(paused > 0, 'the relay did wait for the store');
  const [summary] = store.list({ limit: 1, protocol: 'tcp' }).records;
  const record = store.get(summary!.id) as TcpRecord;
  assert.equal(record.truncated, false);
  assert.equal(record.bytes_in, 24 * MiB);
  const kept = joined(record, 'c2s');
  assert.equal(kept.length, 24 * MiB);
  assert.equal(createHash('sha256').update(kept).digest('hex'), up.sha256(), 'every byte recorded, in order');
});
