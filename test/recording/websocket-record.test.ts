/**
 * A record with WebSocket messages through every place a record goes: the store (segment frames),
 * the peer sync batch and the NATS message (one encoding, checked on both), HAR export and import
 * (QProxy's own and Chrome's shape), the API JSON, and the replay comparison.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { recordsToHar } from '../../src/har/export.js';
import { importHar } from '../../src/har/import.js';
import { recordToJson } from '../../src/api/record-json.js';
import { websocketToJson } from '../../src/api/websocket-json.js';
import { compareWebSocket } from '../../src/playback/compare/compare-websocket.js';
import { compileRules } from '../../src/playback/compare/rules.js';
import { comparedServerMessages } from '../../src/playback/http/ws-replay.js';
import type { HttpRecord, WsMessage } from '../../src/recording/model.js';
import { decodePlainRecord, encodePlain } from '../../src/sync/nats/codec.js';
import { decodeBatch, encodeBatch } from '../../src/sync/wire-format.js';
import { makeRecord, openStore, segmentFrames } from '../store/helpers.js';
import { viaJson } from '../har/har-helpers.js';
import { Redactor } from '../../src/recording/redaction.js';
import { draft, expected, options } from './draft.js';

function message(over: Partial<WsMessage>): WsMessage {
  return { dir: 'c2s', t_us: 0, opcode: 'text', data: Buffer.alloc(0), size: 0, truncated: false, ...over };
}

function text(dir: WsMessage['dir'], t_us: number, s: string): WsMessage {
  const data = Buffer.from(s);
  return message({ dir, t_us, data, size: data.length });
}

function wsRecord(): HttpRecord {
  const big = Buffer.alloc(4096, 0x61);
  return makeRecord({
    request: {
      method: 'GET',
      url: '/chat',
      http_version: '1.1',
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade']],
      body: { data: Buffer.alloc(0), size: 0, truncated: false },
      trailers: [],
    },
    response: {
      status: 101,
      status_message: 'Switching Protocols',
      http_version: '1.1',
      headers: [['Upgrade', 'websocket'], ['Sec-WebSocket-Extensions', 'permessage-deflate']],
      body: { data: Buffer.alloc(0), size: 0, truncated: false },
      trailers: [],
    },
    status: 101,
    timings: { request_end: 0, response_start: 1.25, response_end: 900 },
    websocket: {
      deflate: true,
      messages: [
        text('s2c', 120, '{"welcome":"room-1","at":1}'),
        text('c2s', 5_000, '{"say":"hello"}'),
        text('s2c', 5_400, '{"text":"hello","seq":1}'),
        message({ dir: 'c2s', t_us: 6_000, opcode: 'binary', data: Buffer.from([0, 1, 2, 255]), size: 4 }),
        message({ dir: 's2c', t_us: 7_000, opcode: 'binary', data: big, size: 100_000, truncated: true }),
        message({ dir: 'c2s', t_us: 8_000, opcode: 'ping', data: Buffer.from('p'), size: 1 }),
        message({ dir: 's2c', t_us: 8_100, opcode: 'pong', data: Buffer.from('p'), size: 1 }),
        // A text frame cut inside a character: not UTF-8 as kept.
        message({ dir: 's2c', t_us: 8_500, opcode: 'text', data: Buffer.from('ab\xe2\x82', 'latin1'), size: 10, truncated: true }),
        message({ dir: 's2c', t_us: 9_000, opcode: 'close', data: Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye')]), size: 5, close_code: 4000, close_reason: 'bye' }),
        message({ dir: 'c2s', t_us: 9_100, opcode: 'close', data: Buffer.from([0x0f, 0xa0]), size: 2, close_code: 4000 }),
      ],
      dropped: 2,
      stopped: { dir: 'c2s', t_us: 9_200, reason: 'a frame after the close frame' },
    },
  });
}

describe('a record with WebSocket messages', () => {
  test('comes back identical from the store, its payloads in a WEBSOCKET frame', async (t) => {
    const { store, path } = await openStore(t);
    const record = wsRecord();
    assert.equal(store.offer(record), true);
    await store.flush();
    assert.deepEqual(store.get(record.id), record);
    const frames = segmentFrames(path).map((f) => f.kind);
    assert.deepEqual(frames, ['doc', 'websocket']);
    // The DOC holds no payload bytes.
    const doc = segmentFrames(path)[0]!.payload.toString('utf8');
    assert.doesNotMatch(doc, /"data"/);
  });

  test('travels in a peer sync batch and in a NATS message unchanged', () => {
    const record = wsRecord();
    for (const format of [1, 2] as const) {
      const batch = decodeBatch(encodeBatch('zone-a', [{ seq: 7, record }], format));
      assert.deepEqual(batch.entries[0]!.record, record, `format ${format}`);
    }
    const nats = decodePlainRecord(encodePlain('zone-a', { seq: 7, record }).data);
    assert.deepEqual(nats.entry.record, record);
  });

  test('survives HAR export and import, written the way Chrome writes _webSocketMessages', () => {
    const record = wsRecord();
    const har = viaJson(recordsToHar([record], { version: '9.9.9' })) as { log: { entries: Array<{ _webSocketMessages: Array<Record<string, unknown>> }> } };
    const list = har.log.entries[0]!._webSocketMessages;
    assert.equal(list.length, 10);
    const started = record.started_at + 1.25;
    assert.deepEqual(list[1], { type: 'send', time: (started + 5) / 1000, opcode: 1, data: '{"say":"hello"}', _t_us: 5_000 });
    assert.deepEqual(list[3], { type: 'send', time: (started + 6) / 1000, opcode: 2, data: 'AAEC/w==', _t_us: 6_000 });
    assert.equal(list[4]!._truncated, true);
    assert.equal(list[7]!._encoding, 'base64');
    assert.deepEqual(importHar(har), [record]);
  });

  test('imports a Chrome HAR entry with _webSocketMessages (no QProxy fields)', () => {
    const chrome = {
      log: {
        version: '1.2',
        entries: [
          {
            startedDateTime: '2026-01-02T03:04:05.000Z',
            time: 20,
            request: { method: 'GET', url: 'wss://chat.example/socket', httpVersion: 'HTTP/1.1', headers: [{ name: 'Upgrade', value: 'websocket' }] },
            response: { status: 101, statusText: 'Switching Protocols', httpVersion: 'HTTP/1.1', headers: [], content: { size: 0, mimeType: 'x-unknown' } },
            timings: { send: 0, wait: 20, receive: 0 },
            _webSocketMessages: [
              { type: 'send', time: 1767323045.5, opcode: 1, data: '{"hi":1}' },
              { type: 'receive', time: 1767323045.75, opcode: 2, data: 'AQI=' },
            ],
          },
        ],
      },
    };
    const [r] = importHar(chrome);
    const ws = r!.websocket!;
    assert.deepEqual(
      ws.messages.map((m) => [m.dir, m.opcode, m.data.toString('hex'), m.t_us]),
      [
        ['c2s', 'text', Buffer.from('{"hi":1}').toString('hex'), 480_000],
        ['s2c', 'binary', '0102', 730_000],
      ],
    );
    assert.deepEqual([ws.deflate, ws.dropped, ws.stopped], [false, 0, null]);
  });

  test('shows in the API paged, text frames as text, close frames with their code', () => {
    const record = wsRecord();
    const json = recordToJson(record);
    assert.equal(json.websocket!.messages_total, 10);
    assert.equal(json.websocket!.next, null);
    assert.equal(json.websocket!.messages[1]!.text, '{"say":"hello"}');
    assert.equal(json.websocket!.messages[3]!.text, undefined, 'binary frames carry no text');
    assert.equal(json.websocket!.messages[7]!.text, 'ab', 'a cut character is left out of the text');
    assert.deepEqual([json.websocket!.messages[8]!.close_code, json.websocket!.messages[8]!.close_reason], [4000, 'bye']);
    const page = websocketToJson(record.websocket!, 4, 3);
    assert.deepEqual(page.messages.map((m) => m.n), [4, 5, 6]);
    assert.equal(page.next, 7);
  });

  test('compares the server side message by message, naming the message and the field', () => {
    const record = wsRecord();
    const rules = compileRules({
      status: true,
      headers: [],
      body: true,
      truncated: 'prefix',
      max_body: 1 << 20,
      ignore: { headers: [], json_paths: ['$.at'], patterns: [] },
    } as unknown as Parameters<typeof compileRules>[0]);
    const recorded = comparedServerMessages(record.websocket!.messages);
    assert.deepEqual(recorded.map((m) => m.n), [0, 2, 4, 7, 8], 'pings and pongs are left out');
    const same = recorded.map((m) => ({ ...m }));
    same[0] = { ...same[0]!, data: Buffer.from('{"at":2,"welcome":"room-1"}') };
    assert.deepEqual(compareWebSocket({ status: 101, messages: recorded }, { status: 101, messages: same }, rules).differences, []);

    const changed = recorded.map((m) => ({ ...m }));
    changed[1] = { ...changed[1]!, data: Buffer.from('{"text":"hello!","seq":1}') };
    changed[4] = { ...changed[4]!, close_code: 1000 };
    const out = compareWebSocket({ status: 101, messages: recorded }, { status: 101, messages: changed.slice(0, 5) }, rules);
    assert.equal(out.match, false);
    assert.deepEqual(
      out.differences.map((d) => d.line),
      ['message #2: $.text: "hello" → "hello!"', 'message #8: close code 4000 → 1000'],
    );
    const short = compareWebSocket({ status: 101, messages: recorded }, { status: 101, messages: recorded.slice(0, 2) }, rules);
    assert.deepEqual(short.differences.map((d) => d.line), ['message #4: binary → (not received)', 'message #7: text → (not received)', 'message #8: close → (not received)']);
    const refused = compareWebSocket({ status: 101, messages: recorded }, { status: 404, messages: [] }, rules);
    assert.deepEqual(refused.differences.map((d) => d.line), ['status: 101 → 404']);
  });
});

describe('redaction of WebSocket messages', () => {
  test('JSON paths and patterns run over text messages, binary ones are left alone, and the paths are listed', () => {
    const r = new Redactor(options({ jsonPaths: ['$.password'], bodyPatterns: ['token=(\\w+)'] }));
    const input = { ...draft(), websocket: wsRecord().websocket! };
    input.websocket.messages[1] = text('c2s', 5_000, '{"user":"ada","password":"hunter2"}');
    input.websocket.messages[2] = text('s2c', 5_400, 'your token=abc123 expires');
    const { draft: out, redacted } = r.redactHttp(input);
    const ws = out.websocket!;
    assert.equal((JSON.parse(ws.messages[1]!.data.toString()) as { password: string }).password, expected('hunter2'));
    assert.equal(ws.messages[2]!.data.toString(), `your token=${expected('abc123')} expires`);
    assert.equal(ws.messages[2]!.size, ws.messages[2]!.data.length);
    assert.ok(ws.messages[3]!.data.equals(Buffer.from([0, 1, 2, 255])), 'binary message untouched');
    assert.ok(redacted.includes('websocket.c2s$.password'), redacted.join(', '));
    assert.ok(redacted.includes('websocket.s2c/pattern:0'), redacted.join(', '));
    assert.equal(input.websocket.messages[1].data.toString(), '{"user":"ada","password":"hunter2"}', 'the draft itself is not changed');
  });
});
