/**
 * The WebSocket recorder fed the way a socket may deliver bytes: one byte at a time, frames split
 * anywhere, lengths of every encoding (7-bit, 16-bit, 64-bit), masked client frames. Socket-level
 * behaviour (relay, deflate, garbage) is tested through the proxy in test/proxy/websocket-frames.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocketRecorder } from '../../src/recording/ws-recorder.js';

function frame(opcode: number, payload: Buffer, { fin = true, mask = null as Buffer | null } = {}): Buffer {
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  const body = mask ? Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!)) : payload;
  return Buffer.concat([Buffer.from(head), mask ?? Buffer.alloc(0), body]);
}

const MASK = Buffer.from([0xa1, 0xb2, 0xc3, 0xd4]);

test('frames split at every byte come out as the same messages, payloads unmasked, the relayed bytes untouched', async () => {
  const mid = Buffer.alloc(300, 0x41);
  const big = Buffer.alloc(70_000, 0x42);
  const client = Buffer.concat([
    frame(1, Buffer.from('héllo'), { mask: MASK }),
    frame(2, mid, { fin: false, mask: MASK }),
    frame(9, Buffer.from('ping!'), { mask: MASK }),
    frame(0, Buffer.from('tail'), { mask: MASK }),
    frame(1, big, { mask: MASK }),
    frame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('done')]), { mask: MASK }),
  ]);
  const server = Buffer.concat([frame(1, Buffer.from('welcome')), frame(10, Buffer.from('ping!')), frame(8, Buffer.from([0x03, 0xe8]))]);
  const copy = Buffer.from(client);
  const rec = new WebSocketRecorder({ maxMessage: 1 << 20, maxBytes: 0, extensions: undefined });
  for (let i = 0; i < client.length; i++) rec.client(client.subarray(i, i + 1));
  for (let i = 0; i < server.length; i += 3) rec.server(server.subarray(i, i + 3));
  await rec.settled();
  assert.ok(client.equals(copy), 'the relayed buffers are never written to');
  const ws = rec.result();
  assert.equal(ws.stopped, null);
  const c2s = ws.messages.filter((m) => m.dir === 'c2s');
  assert.deepEqual(
    c2s.map((m) => [m.opcode, m.size]),
    [
      ['text', 6],
      ['ping', 5],
      ['binary', 304],
      ['text', 70_000],
      ['close', 6],
    ],
  );
  assert.equal(c2s[0]!.data.toString('utf8'), 'héllo');
  assert.ok(c2s[2]!.data.equals(Buffer.concat([mid, Buffer.from('tail')])), 'fragments joined, in order, around the ping');
  assert.ok(c2s[3]!.data.equals(big));
  assert.deepEqual([c2s[4]!.close_code, c2s[4]!.close_reason], [1000, 'done']);
  assert.deepEqual(
    ws.messages.filter((m) => m.dir === 's2c').map((m) => [m.opcode, m.data.toString('utf8'), m.close_code]),
    [
      ['text', 'welcome', undefined],
      ['pong', 'ping!', undefined],
      ['close', '\u0003\ufffd', 1000],
    ],
  );
});

test('a framing fault stops reading with its reason; an unmasked client frame is one', async () => {
  const rec = new WebSocketRecorder({ maxMessage: 1024, maxBytes: 0, extensions: undefined });
  rec.client(frame(1, Buffer.from('ok'), { mask: MASK }));
  rec.client(frame(1, Buffer.from('not masked')));
  rec.client(frame(1, Buffer.from('after'), { mask: MASK }));
  await rec.settled();
  const ws = rec.result();
  assert.deepEqual(ws.messages.map((m) => m.data.toString()), ['ok']);
  assert.equal(ws.stopped?.reason, 'a client frame is not masked');
});

test('a connection that ends inside a frame is marked', async () => {
  const rec = new WebSocketRecorder({ maxMessage: 1024, maxBytes: 0, extensions: undefined });
  rec.server(frame(2, Buffer.alloc(100)).subarray(0, 50));
  await rec.settled();
  assert.equal(rec.result().stopped?.reason, 'the connection ended inside a frame');
});
