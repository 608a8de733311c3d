/**
 * The consumer's pipeline against a real nats-server: a backlog larger than several batches is
 * stored once each while the next batch is decoded during the previous commit, and the plain acks
 * sent after each commit all reach the server, also across a clean stop and restart.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../helpers/nats-server.js';
import { fill, httpRecord, openStore, tempDir, waitFor } from './helpers.js';
import { consumerOptions, publisherOptions, recordJson, startConsumer, startPublisher } from './nats-helpers.js';

async function consumerState(url: string, durable: string): Promise<{ pending: number; ackPending: number; redelivered: number }> {
  const nc = await connect({ servers: url });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info('QPROXY', durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  } finally {
    await nc.close();
  }
}

test('a backlog of many batches is stored once each, every ack lands, and a clean restart gets no redelivery', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const records = Array.from({ length: 600 }, (_, i) => httpRecord(i));
  await fill(a, records);
  const publisher = await startPublisher(t, publisherOptions(a, nats.url));
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'the backlog in the stream');

  // Small batches, so the 600 messages make dozens of commits with the pull running ahead.
  const opts = consumerOptions(b, nats.url, { batch: 16 });
  const first = await startConsumer(t, opts);
  // The store's count moves at the commit; the consumer's own counts when the writer reports it, just after.
  await waitFor(() => b.stats().count === 600 && first.status().received.stored === 600, () => `600 records stored (have ${b.stats().count})`);
  for (const r of records) assert.ok(recordJson(b.get(r.id)) === recordJson(a.get(r.id)), `record ${r.id} intact`);
  assert.equal(first.status().received.stored, 600);
  assert.equal(first.status().received.duplicates, 0);
  await first.close(2000);

  const after = await consumerState(nats.url, opts.durable);
  assert.deepEqual(after, { pending: 0, ackPending: 0, redelivered: 0 }, 'every message acknowledged, none offered twice');

  const more = Array.from({ length: 40 }, (_, i) => httpRecord(1000 + i));
  await fill(a, more);
  const second = await startConsumer(t, opts);
  await waitFor(() => b.stats().count === 640, 'the new records stored after the restart');
  const st = second.status().received;
  assert.equal(st.messages, 40, 'only the new messages were delivered');
  assert.equal(st.redelivered, 0);
});
