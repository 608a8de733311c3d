/**
 * The publisher's PubAck pipeline against a real nats-server: the reply tracker (replies, "no
 * responders", timeouts swept by one timer), and the publisher when the server refuses a publish
 * (a full stream with discard new), never acknowledges one (a no_ack stream), or has lost the
 * stream (deleted: "no responders"); and a compressed record among plain ones.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiscardPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ReplyTimeoutError, ReplyTracker, ReplyTrackerClosedError, isNoResponders } from '../../src/sync/nats/reply-tracker.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { fill, httpRecord, MemoryLog, openStore, tempDir, waitFor } from './helpers.js';
import { consumerOptions, publisherOptions, recordJson, startConsumer, startPublisher } from './nats-helpers.js';

const NS_PER_MS = 1_000_000;

async function client(t: import('node:test').TestContext, url: string): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  return { nc, jsm: await jetstreamManager(nc) };
}

async function streamMessages(jsm: JetStreamManager, stream = 'QPROXY'): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/** Polls an async check (a JetStream API call) every 20 ms. */
async function waitForAsync(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test('the reply tracker: replies by token, "no responders", timeouts, and close', async (t) => {
  const nats = await startNatsServer(t, { jetstream: false });
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  // An echo service, and a subscriber that never replies.
  nc.subscribe('echo', {
    callback: (_err, m) => {
      m.respond(m.data);
    },
  });
  nc.subscribe('silent', { callback: () => undefined });
  await nc.flush();
  const tracker = new ReplyTracker(nc, 300);
  t.after(() => tracker.close());

  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => tracker.request('echo', Buffer.from(`m${i}`))));
  assert.deepEqual(
    replies.map((r) => Buffer.from(r.data).toString()),
    Array.from({ length: 50 }, (_, i) => `m${i}`),
    'each reply goes to its own request',
  );

  const nobody = await tracker.request('nobody.listens', Buffer.from('x'));
  assert.equal(isNoResponders(nobody), true, 'the server answers 503 for a subject without subscribers');
  assert.equal(isNoResponders(replies[0]!), false);

  await assert.rejects(tracker.request('silent', Buffer.from('x')), (err: unknown) => err instanceof ReplyTimeoutError && err.timeoutMs === 300);
  assert.equal(tracker.pending, 0, 'a timed-out request is forgotten');

  const waiting = tracker.request('silent', Buffer.from('y'));
  tracker.close();
  await assert.rejects(waiting, (err: unknown) => err instanceof ReplyTrackerClosedError);
  await assert.rejects(tracker.request('echo', Buffer.from('z')), (err: unknown) => err instanceof ReplyTrackerClosedError, 'a closed tracker sends nothing');
});

test('a stream that stops accepting (max_msgs, discard new): the PubAck error shows, the cursor stays on what was stored, and publishing resumes when it has room', async (t) => {
  const nats = await startNatsServer(t);
  const { jsm } = await client(t, nats.url);
  await jsm.streams.add({ name: 'QPROXY', subjects: ['qproxy.>'], max_msgs: 5, discard: DiscardPolicy.New, duplicate_window: 120_000 * NS_PER_MS });
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const records = Array.from({ length: 12 }, (_, i) => httpRecord(i));
  await fill(a, records);
  const publisher = await startPublisher(t, publisherOptions(a, nats.url));
  await waitFor(() => publisher.status().last_error !== null, 'the refusal in status');
  const err = publisher.status().last_error!;
  assert.equal(err.code, 'QP_ERR_NATS_PUBLISH');
  assert.equal(err.reason, 'ack_timeout');
  assert.match(err.message, /maximum messages exceeded/);
  assert.equal(await streamMessages(jsm), 5);
  // Publishes are pipelined, so the acknowledged prefix is exactly what the stream took.
  const fifth = a.readAfter(0, 5)[4]!.seq;
  await waitFor(() => publisher.cursor === fifth, () => `the cursor on the 5th record (is ${publisher.cursor})`);
  assert.equal(publisher.status().pending.records, 7);
  // New records count at once (the stream is full: they stay pending), not after the figure's reuse.
  await fill(a, Array.from({ length: 3 }, (_, i) => httpRecord(100 + i)));
  assert.equal(publisher.status().pending.records, 10);

  const info = await jsm.streams.info('QPROXY');
  await jsm.streams.update('QPROXY', { ...info.config, max_msgs: -1 });
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'the rest published once the stream has room');
  assert.equal(await streamMessages(jsm), 15, 'each record once');
});

test('PubAcks that never come (a no_ack stream): publish_timeout, re-sends dropped by the duplicate window, and recovery', async (t) => {
  const nats = await startNatsServer(t);
  const { jsm } = await client(t, nats.url);
  await jsm.streams.add({ name: 'QPROXY', subjects: ['qproxy.>'], no_ack: true, duplicate_window: 120_000 * NS_PER_MS });
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const records = Array.from({ length: 30 }, (_, i) => httpRecord(i));
  await fill(a, records);
  const publisher = await startPublisher(t, publisherOptions(a, nats.url, { publishTimeoutMs: 200 }));
  await waitFor(() => publisher.status().last_error?.message.includes('not acknowledged within 200 ms') === true, 'the timeout in status');
  assert.equal(publisher.status().last_error!.code, 'QP_ERR_NATS_PUBLISH');
  assert.equal(publisher.status().last_error!.reason, 'ack_timeout');
  // Stored but never acknowledged: the cursor does not move, and the re-sends after the timeout
  // (there is at least one, the back-off is short) are dropped as duplicates.
  await waitFor(() => publisher.status().last_error!.attempts >= 2, 'published again after the timeout');
  assert.equal(publisher.cursor, 0);
  assert.equal(await streamMessages(jsm), 30);

  const info = await jsm.streams.info('QPROXY');
  await jsm.streams.update('QPROXY', { ...info.config, no_ack: false });
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'published and acknowledged once the stream acknowledges');
  assert.equal(await streamMessages(jsm), 30, 'still each record once');
  assert.equal(publisher.status().sent.duplicates, 30, 'the acknowledged re-sends were all duplicates');
});

test('the stream deleted under a running publisher ("no responders"): it is set up again and publishing goes on', async (t) => {
  const nats = await startNatsServer(t);
  const { jsm } = await client(t, nats.url);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const log = new MemoryLog();
  const publisher = await startPublisher(t, publisherOptions(a, nats.url, { logger: log }));
  await fill(a, Array.from({ length: 10 }, (_, i) => httpRecord(i)));
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'the first records published');
  await jsm.streams.delete('QPROXY');
  await fill(a, Array.from({ length: 10 }, (_, i) => httpRecord(100 + i)));
  // Status moves on to the reconnect that follows; the log keeps the reason.
  await waitFor(() => log.has('no responders'), '"no responders" logged');
  await waitForAsync(async () => (await streamMessages(jsm)) === 10, 'the new records in the re-created stream');
  await waitFor(() => publisher.durableCursor === a.stats().lastSeq, 'the cursor at the end of the feed');
  assert.equal(publisher.connected, true);
});

test('a record above compress_min_bytes goes out compressed among plain ones, and arrives intact', async (t) => {
  const nats = await startNatsServer(t);
  const dir = await tempDir(t);
  const a = await openStore(t, join(dir, 'a.db'));
  const b = await openStore(t, join(dir, 'b.db'));
  const base = httpRecord(3);
  const text = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ line: i, status: 'ok', note: 'compressible text' }))));
  const big = { ...base, response: { ...base.response!, body: { data: text, size: text.byteLength, truncated: false } } };
  const records = [httpRecord(1), big, httpRecord(2)];
  await fill(a, records);
  const publisher = await startPublisher(t, publisherOptions(a, nats.url, { compression: 'br', compressMinBytes: 4096 }));
  await startConsumer(t, consumerOptions(b, nats.url));
  await waitFor(() => b.stats().count === 3 && publisher.status().sent.messages === 3, 'the three records stored and acknowledged');
  for (const r of records) assert.ok(recordJson(b.get(r.id)) === recordJson(a.get(r.id)), `record ${r.id} intact`);
  const sent = publisher.status().sent;
  assert.equal(sent.messages, 3);
  assert.ok(sent.wire_bytes * 4 < sent.raw_bytes, `compressed on the wire (${sent.wire_bytes} of ${sent.raw_bytes} bytes)`);
});
