import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QRecord, TcpRecord } from '../../src/recording/model.js';
import { TcpRecorder } from '../../src/recording/tcp-recorder.js';
import { COPY_MAX_CHUNK } from '../../src/recording/tcp-capture.js';
import type { TcpRecorderOptions } from '../../src/recording/tcp-recorder.js';
import { ListSink, joined, waitFor } from './helpers.js';
import { timerRounds } from '../helpers/timers.js';

const start = { client: { address: '10.1.2.3', port: 5555 }, tls: null, downstreamTls: false };

function recorder(sink: { offer(r: QRecord): boolean }, over: Partial<TcpRecorderOptions> = {}): TcpRecorder {
  return new TcpRecorder({ enabled: true, nodeId: 'az-a-1', maxSessionBytes: 1 << 20, segmentIntervalMs: 60_000, segmentBytes: 100, sink, ...over });
}

test('a short session is one record: small chunks copied, large ones referenced, totals, downstream, close reason', () => {
  const sink = new ListSink();
  const rec = recorder(sink, { segmentBytes: 1 << 20 });
  const tap = rec.open(start)!;
  const hello = Buffer.from('hello');
  tap.connected('127.0.0.1:6379');
  tap.chunk('c2s', hello);
  tap.chunk('s2c', Buffer.from('world!'));
  const large = Buffer.alloc(COPY_MAX_CHUNK, 7);
  tap.chunk('s2c', large);
  tap.close('server_close', null);
  tap.close('client_reset', null);
  tap.chunk('c2s', Buffer.from('late'));
  assert.equal(sink.segments.length, 1);
  const r = sink.segments[0]!;
  assert.notEqual(r.chunks[0]!.data, hello, 'a small read is copied');
  hello.fill(0);
  assert.equal(r.chunks[0]!.data.toString(), 'hello', 'the recorded copy does not change with the read buffer');
  assert.equal(r.chunks[2]!.data, large, 'a large read is kept by reference');
  assert.deepEqual(
    { ...r, id: '', started_at: 0, duration_ms: 0, chunks: [] },
    {
      v: 1,
      id: '',
      protocol: 'tcp',
      node_id: 'az-a-1',
      started_at: 0,
      duration_ms: 0,
      client: start.client,
      tls: null,
      downstream: '127.0.0.1:6379',
      downstream_tls: false,
      bytes_in: 5,
      bytes_out: 6 + COPY_MAX_CHUNK,
      chunks: [],
      truncated: false,
      state: 'closed',
      close_reason: 'server_close',
      error: null,
      redacted: [],
    },
  );
  assert.ok(r.chunks[1]!.t_us >= r.chunks[0]!.t_us);
  assert.equal(rec.openSessions, 0);
});

test('segment_bytes: pending chunks are offered as an open segment once that many bytes wait', () => {
  const sink = new ListSink();
  const tap = recorder(sink, { segmentBytes: 100 }).open(start)!;
  for (let i = 0; i < 5; i++) tap.chunk('c2s', Buffer.alloc(50, i));
  assert.deepEqual(sink.segments.map((s) => [s.state, s.chunks.length, s.bytes_in]), [
    ['open', 2, 100],
    ['open', 2, 200],
  ]);
  tap.close('client_close', null);
  assert.deepEqual(sink.segments.map((s) => s.state), ['open', 'open', 'closed']);
  const ids = new Set(sink.segments.map((s) => s.id));
  assert.equal(ids.size, 1, 'every segment carries the session id');
  const whole = { ...sink.segments[2]!, chunks: sink.segments.flatMap((s) => s.chunks) };
  assert.equal(joined(whole, 'c2s').length, 250);
});

test('segment_interval: an open session is offered after the interval, then only when something changed', async () => {
  const sink = new ListSink();
  const rec = recorder(sink, { segmentIntervalMs: 20, segmentBytes: 1 << 20 });
  const tap = rec.open(start)!;
  tap.chunk('c2s', Buffer.from('a'));
  await waitFor(() => sink.segments.length === 1, 'the first segment');
  assert.equal(sink.segments[0]!.state, 'open');
  assert.equal(sink.segments[0]!.chunks.length, 1);
  // Nothing new: several intervals pass without another segment.
  const quiet = sink.segments.length;
  await timerRounds(20, 5);
  assert.equal(sink.segments.length, quiet);
  tap.chunk('s2c', Buffer.from('b'));
  await waitFor(() => sink.segments.length === 2, 'the segment with the new chunk');
  assert.deepEqual(sink.segments[1]!.chunks.map((c) => c.data.toString()), ['b']);
  tap.close('idle_timeout', { code: 'QP_ERR_TCP_IDLE_TIMEOUT', message: 'idle' });
  assert.equal(sink.segments[2]!.close_reason, 'idle_timeout');
  assert.equal(rec.openSessions, 0, 'the sweep timer stops with the last session');
});

test('max_session_bytes: the chunk at the cap is cut, later ones only counted, the record marked truncated', () => {
  const sink = new ListSink();
  const tap = recorder(sink, { maxSessionBytes: 10, segmentBytes: 1 << 20 }).open(start)!;
  tap.chunk('c2s', Buffer.from('0123456'));
  tap.chunk('s2c', Buffer.from('789abc'));
  tap.chunk('c2s', Buffer.from('more'));
  tap.close('client_close', null);
  const r = sink.segments[0]!;
  assert.deepEqual(r.chunks.map((c) => [c.dir, c.data.toString()]), [
    ['c2s', '0123456'],
    ['s2c', '789'],
  ]);
  assert.equal(r.truncated, true);
  assert.equal(r.bytes_in, 11);
  assert.equal(r.bytes_out, 6);
});

test('a sink that drops a segment makes later segments say truncated; a sink that throws is counted, never thrown', () => {
  let accept = false;
  const kept: TcpRecord[] = [];
  const dropping = recorder({ offer: (r) => (accept ? kept.push(r as TcpRecord) > 0 : false) }, { segmentBytes: 10 });
  const tap = dropping.open(start)!;
  tap.chunk('c2s', Buffer.alloc(10));
  accept = true;
  tap.close('client_close', null);
  assert.equal(kept.length, 1);
  assert.equal(kept[0]!.truncated, true, 'the stored session misses the dropped segment');

  const drops: string[] = [];
  const warned: string[] = [];
  const throwing = recorder(
    {
      offer: () => {
        throw new Error('disk on fire');
      },
    },
    { observer: { dropped: (reason) => drops.push(reason) }, logger: { warn: (_o, m) => warned.push(m) } },
  );
  for (let i = 0; i < 3; i++) {
    const t = throwing.open(start)!;
    t.chunk('c2s', Buffer.from('x'));
    assert.doesNotThrow(() => t.close('client_close', null));
  }
  assert.deepEqual(drops, ['sink_error', 'sink_error', 'sink_error']);
  assert.equal(warned.length, 1, 'logged once, then only counted');
});

test('recording off: open() returns null', () => {
  const sink = new ListSink();
  assert.equal(recorder(sink, { enabled: false }).open(start), null);
});
