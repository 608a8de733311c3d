/**
 * NATS sync under failure: the server killed mid-stream, a server without JetStream, a stream that
 * conflicts with what QProxy needs, garbage in the stream, a record larger than max_payload.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer } from '../helpers/nats-server.js';
import { fill, httpRecord, MemoryLog, openStore, tempDir, waitFor } from './helpers.js';
import { consumerOptions, publisherOptions, recordJson, startConsumer, startPublisher } from './nats-helpers.js';

async function streamMessages(url: string, stream = 'QPROXY', auth: { user?: string; pass?: string } = {}): Promise<number> {
  const nc = await connect({ servers: url, ...auth });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

test('the NATS server killed (-9) and restarted mid-stream: nothing lost, nothing twice', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const publisher = await startPublisher(t, publisherOptions(a, nats.url, { publishTimeoutMs: 500 }));
  const consumer = await startConsumer(t, consumerOptions(b, nats.url));
  const records = Array.from({ length: 600 }, (_, i) => httpRecord(i));
  await fill(a, records.slice(0, 200));
  await waitFor(() => b.stats().count >= 100, 'the first records flow');
  await fill(a, records.slice(200, 400));
  await nats.kill();
  await waitFor(() => !publisher.connected && !consumer.connected, 'both sides notice the outage');
  await fill(a, records.slice(400));
  await nats.restart();
  await waitFor(() => b.stats().count === 600, () => `600 records in B (have ${b.stats().count})`, 30_000);
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'the cursor reaches the end of the feed');
  for (const r of records) assert.ok(recordJson(b.get(r.id)) === recordJson(a.get(r.id)), `record ${r.id} intact`);
  // Re-sends after the outage were dropped by the duplicate window: the stream holds each record once.
  assert.equal(await streamMessages(nats.url), 600);
  assert.ok(publisher.status().last_error !== null, 'the outage shows in status');
  await waitFor(() => consumer.status().received.stored === 600, 'the consumer counted each record once');
});

test('a record larger than max_payload is split into parts and reassembled', async (t) => {
  const nats = await startNatsServer(t, { maxPayload: 64 * 1024 });
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const big = httpRecord(7);
  const body = randomBytes(300 * 1024);
  const large = { ...big, response: { ...big.response!, body: { data: body, size: body.byteLength, truncated: false } } };
  const small = httpRecord(8);
  await fill(a, [large, small]);
  const publisher = await startPublisher(t, publisherOptions(a, nats.url));
  await startConsumer(t, consumerOptions(b, nats.url));
  await waitFor(() => b.stats().count === 2 && publisher.status().sent.split === 1, 'both records in B, one sent in parts');
  assert.ok(recordJson(b.get(large.id)) === recordJson(a.get(large.id)), 'the large record is byte-identical');
  assert.equal(publisher.status().sent.split, 1);
  // The parts count in the stream, but the consumer's filter only sees the two record subjects.
  assert.ok((await streamMessages(nats.url)) > 2);
});

test('a server without JetStream: a clear error in status and log, and the node keeps running', async (t) => {
  const nats = await startNatsServer(t, { jetstream: false });
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const log = new MemoryLog();
  const publisher = await startPublisher(t, publisherOptions(a, nats.url, { logger: log }));
  await waitFor(() => publisher.status().last_error?.code === 'QP_ERR_NATS_NO_JETSTREAM', 'the missing JetStream in status');
  assert.match(publisher.status().last_error!.message, /-js/);
  assert.equal(log.count('error', 'without JetStream'), 1, 'logged once as an error, not once per retry');
  assert.equal(publisher.connected, false);
  const b = await openStore(t, join(dir, 'b.db'));
  const consumer = await startConsumer(t, consumerOptions(b, nats.url));
  await waitFor(() => consumer.status().last_error?.code === 'QP_ERR_NATS_NO_JETSTREAM', 'the consumer reports it too');
});

test('an existing stream with conflicting settings, or a missing one with create_stream false: clear errors', async (t) => {
  const nats = await startNatsServer(t);
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  await (await jetstreamManager(nc)).streams.add({ name: 'QPROXY', subjects: ['other.>'] });
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const publisher = await startPublisher(t, publisherOptions(a, nats.url));
  await waitFor(() => publisher.status().last_error?.code === 'QP_ERR_NATS_STREAM_CONFLICT', 'the conflict in status');
  assert.match(publisher.status().last_error!.message, /do not cover "qproxy\.rec\.>"/);
  const b = await openStore(t, join(dir, 'b.db'));
  const missing = await startConsumer(t, consumerOptions(b, nats.url, { stream: { ...consumerOptions(b, nats.url).stream, name: 'ABSENT', create: false } }));
  await waitFor(() => missing.status().last_error?.code === 'QP_ERR_NATS_STREAM_MISSING', 'the missing stream in status');
  assert.match(missing.status().last_error!.message, /create_stream/);
});

test('garbage in the stream is counted and terminated; the records around it are stored', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const publisher = await startPublisher(t, publisherOptions(a, nats.url));
  await fill(a, [httpRecord(1)]);
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'the first record published');
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  nc.publish('qproxy.rec.intruder.http', 'not a record');
  await nc.flush();
  await fill(a, [httpRecord(2)]);
  const consumer = await startConsumer(t, consumerOptions(b, nats.url));
  await waitFor(() => b.stats().count === 2 && consumer.status().received.malformed === 1, 'two records stored, one message refused');
  assert.equal(consumer.status().last_error?.code, 'QP_ERR_NATS_MESSAGE_MALFORMED');
  assert.equal(consumer.connected, true);
  await waitFor(() => consumer.status().pending.records === 0, 'nothing left pending (the garbage was terminated)');
});

test('credentials and publish permissions are checked as the link comes up, storing nothing: refusals show at once, not at the first record', async (t) => {
  // "rec" may use the JetStream API (so the stream setup succeeds) but not publish records.
  const nats = await startNatsServer(t, {
    authorization: `users: [
      { user: rec, password: pw, permissions: { publish: { allow: ["$JS.API.>"] }, subscribe: { allow: ["_INBOX.>"] } } }
      { user: full, password: pw }
    ]`,
  });
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const server = (user: string, password: string) => ({ servers: [nats.url], connectTimeoutMs: 2000, user, password });

  // An empty store: no publish would ever tell; the check does.
  const limited = await startPublisher(t, publisherOptions(a, nats.url, { server: server('rec', 'pw'), publishTimeoutMs: 60_000 }));
  await waitFor(() => limited.status().last_error?.code === 'QP_ERR_NATS_PERMISSION', 'the publish permission refused at link-up');
  const refused = limited.status();
  assert.equal(refused.connected, false);
  assert.equal(refused.last_error?.reason, 'forbidden');
  assert.match(refused.last_error?.message ?? '', /may not publish on "qproxy\.rec\.az-a-1\.http"/);
  await limited.close(500);

  const wrong = await startPublisher(t, publisherOptions(a, nats.url, { server: server('full', 'not-the-password') }));
  await waitFor(() => wrong.status().last_error?.code === 'QP_ERR_NATS_AUTH', 'a wrong password refused at connect');
  assert.equal(wrong.status().last_error?.reason, 'unauthorized');
  await wrong.close(500);

  const allowed = await startPublisher(t, publisherOptions(a, nats.url, { server: server('full', 'pw') }));
  await waitFor(() => allowed.status().state === 'connected', 'connected with every permission');
  const count = (): Promise<number> => streamMessages(nats.url, 'QPROXY', { user: 'full', pass: 'pw' });
  assert.equal(await count(), 0, 'the check stored nothing');
  await fill(a, [httpRecord(1)]);
  await waitFor(() => allowed.durableCursor === a.stats().lastSeq, 'the record published');
  assert.equal(await count(), 1);
});
