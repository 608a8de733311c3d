import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { HttpRecord, QRecord } from '../../src/recording/model.js';
import { HttpRecorder, type RecorderDropReason } from '../../src/recording/recorder.js';
import { Redactor } from '../../src/recording/redaction.js';
import type { RecordSink } from '../../src/recording/sink.js';
import { uuidv7Time } from '../../src/core/uuidv7.js';
import { draft, expected, options } from './draft.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

class ListSink implements RecordSink {
  readonly records: HttpRecord[] = [];
  constructor(private readonly accept = true) {}
  offer(record: QRecord): boolean {
    if (record.protocol !== 'http') throw new Error('the HTTP recorder offered a non-HTTP record');
    if (this.accept) this.records.push(record);
    return this.accept;
  }
}

class Drops {
  readonly seen: Array<[RecorderDropReason, number]> = [];
  dropped(reason: RecorderDropReason, count: number): void {
    this.seen.push([reason, count]);
  }
}

/** A real pino logger writing JSON lines into memory. */
function memoryLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  const lines = (): Array<Record<string, unknown>> =>
    chunks.join('').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

const deepJson = (): ReturnType<typeof draft> =>
  draft({ reqHeaders: [['Content-Type', 'application/json'], ['Authorization', 'Bearer live-secret']], reqBody: '['.repeat(200_000) + ']'.repeat(200_000) });

void describe('HttpRecorder', () => {
  void it('redacts, then stamps version, a UUIDv7 id, node_id and the redacted list', () => {
    const sink = new ListSink();
    const rec = new HttpRecorder({ enabled: true, nodeId: 'az-a-1', maxBody: 1024, redactor: new Redactor(options()), sink });
    const input = draft({ url: '/p?token=t', reqHeaders: [['Authorization', 'Bearer abc']] });
    const before = Date.now();
    rec.commit(input);
    const after = Date.now();
    assert.equal(sink.records.length, 1);
    const r = sink.records[0]!;
    assert.equal(r.v, 1);
    assert.match(r.id, UUIDV7);
    assert.ok(uuidv7Time(r.id) >= before && uuidv7Time(r.id) <= after + 1, 'id carries the commit time');
    assert.equal(r.node_id, 'az-a-1');
    assert.equal(r.request.url, `/p?token=${expected('t')}`);
    assert.deepEqual(r.request.headers, [['Authorization', `Bearer ${expected('abc')}`]]);
    assert.deepEqual(r.redacted, ['request.query.token', 'request.headers.authorization']);
    assert.equal(r.started_at, input.started_at);
    assert.deepEqual(r.timings, input.timings);
    assert.equal(rec.enabled, true);
    assert.equal(rec.maxBody, 1024);
  });

  void it('builds the record with the fields in the stored order: v, id, node_id, the draft\'s, websocket when there is one, redacted', () => {
    const sink = new ListSink();
    const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 1024, redactor: new Redactor(options()), sink });
    const plain = draft({ reqHeaders: [['Authorization', 'Bearer abc']] });
    const websocket = { deflate: false, messages: [], dropped: 0, stopped: null };
    rec.commit(plain);
    rec.commit({ ...plain, websocket });
    const fields = ['protocol', 'started_at', 'duration_ms', 'client', 'tls', 'downstream', 'request', 'response', 'status', 'timings', 'error'];
    assert.deepEqual(Object.keys(sink.records[0]!), ['v', 'id', 'node_id', ...fields, 'redacted']);
    assert.deepEqual(Object.keys(sink.records[1]!), ['v', 'id', 'node_id', ...fields, 'websocket', 'redacted']);
    // Every field of the draft is carried over, redacted where a rule applies.
    const { v: _v, id: _id, node_id: _n, redacted, ...rest } = sink.records[0]!;
    assert.deepEqual(rest, { ...plain, request: { ...plain.request, headers: [['Authorization', `Bearer ${expected('abc')}`]] } });
    assert.deepEqual(redacted, ['request.headers.authorization']);
    assert.equal(sink.records[1]!.websocket, websocket);
  });

  void it('stamps ids that sort in commit order and are unique', () => {
    const sink = new ListSink();
    const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 0, redactor: null, sink });
    for (let i = 0; i < 2000; i++) rec.commit(draft());
    const ids = sink.records.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    const times = ids.map(uuidv7Time);
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!));
  });

  void it('stores records as they are with no redactor, or with redaction disabled', () => {
    for (const redactor of [null, new Redactor(options({ enabled: false }))]) {
      const sink = new ListSink();
      const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 1, redactor, sink });
      rec.commit(draft({ url: '/p?token=t', reqHeaders: [['Cookie', 'a=b']] }));
      assert.equal(sink.records[0]!.request.url, '/p?token=t');
      assert.deepEqual(sink.records[0]!.request.headers, [['Cookie', 'a=b']]);
      assert.deepEqual(sink.records[0]!.redacted, []);
    }
  });

  void it('records nothing when switched off', () => {
    const sink = new ListSink();
    const rec = new HttpRecorder({ enabled: false, nodeId: 'n', maxBody: 1, redactor: null, sink });
    rec.commit(draft());
    assert.equal(rec.enabled, false);
    assert.equal(sink.records.length, 0);
  });

  void it('drops and counts a record whose redaction fails, never storing it, and logs once', () => {
    const sink = new ListSink();
    const drops = new Drops();
    const { logger, lines } = memoryLogger();
    const redactor = new Redactor(options({ jsonPaths: ['$..x'] }));
    const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 1 << 20, redactor, sink, observer: drops, logger });
    assert.doesNotThrow(() => rec.commit(deepJson()));
    assert.doesNotThrow(() => rec.commit(deepJson()));
    rec.commit(draft({ reqHeaders: [['Authorization', 'Bearer ok']] }));
    assert.equal(sink.records.length, 1, 'only the healthy record is stored');
    assert.deepEqual(drops.seen, [['redaction_error', 1], ['redaction_error', 1]]);
    const logged = lines();
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.reason, 'redaction_error');
    assert.equal(logged[0]!.level, 40);
    assert.match(String(logged[0]!.msg), /redaction failed/);
    assert.ok(!JSON.stringify(logged).includes('live-secret'), 'the log holds no secret');
  });

  void it('drops and counts when the sink throws, and logs once', () => {
    const drops = new Drops();
    const { logger, lines } = memoryLogger();
    const sink: RecordSink = {
      offer() {
        throw new Error('disk on fire');
      },
    };
    const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 1, redactor: new Redactor(options()), sink, observer: drops, logger });
    assert.doesNotThrow(() => rec.commit(draft()));
    assert.doesNotThrow(() => rec.commit(draft()));
    assert.deepEqual(drops.seen, [['sink_error', 1], ['sink_error', 1]]);
    const logged = lines();
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.reason, 'sink_error');
    assert.deepEqual((logged[0]!.err as Record<string, unknown>).message, 'disk on fire');
  });

  void it("does not count the sink's own drops (offer returning false)", () => {
    const drops = new Drops();
    const sink = new ListSink(false);
    const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 1, redactor: null, sink, observer: drops });
    rec.commit(draft());
    assert.deepEqual(drops.seen, []);
    assert.equal(sink.records.length, 0);
  });

  void it('never throws even when the observer and the logger throw', () => {
    const sink: RecordSink = {
      offer() {
        throw new Error('sink');
      },
    };
    const observer = {
      dropped(): void {
        throw new Error('observer');
      },
    };
    const logger = {
      warn(): void {
        throw new Error('logger');
      },
    };
    const rec = new HttpRecorder({ enabled: true, nodeId: 'n', maxBody: 1, redactor: null, sink, observer, logger });
    assert.doesNotThrow(() => rec.commit(draft()));
  });
});
