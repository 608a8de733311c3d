import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { WsMessage } from '../../src/recording/model.js';
import { closeClient, echoHandler, nextMessages, openClient, startWsServer, type WsServer } from '../helpers/ws-servers.js';
import { CollectingRecorder, startProxy, waitFor, type ProxyHarness } from './harness.js';

/** The recorded messages as [dir, opcode, text-or-hex] for readable assertions. */
function shape(messages: readonly WsMessage[]): Array<[string, string, string]> {
  return messages.map((m) => [m.dir, m.opcode, m.opcode === 'binary' || m.opcode === 'ping' || m.opcode === 'pong' ? m.data.toString('hex') : m.data.toString('utf8')]);
}

/** A masked client frame written by hand. */
function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([head, mask, body]);
}

async function rawUpgrade(port: number): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write('GET /raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  const received = (): Buffer => Buffer.concat(chunks);
  await waitFor(() => received().includes('\r\n\r\n'), 'the 101');
  assert.match(received().toString('latin1'), /^HTTP\/1\.1 101 /);
  return { socket, received };
}

describe('WebSocket frame recording', () => {
  let echo: WsServer;
  let deflating: WsServer;
  let px: ProxyHarness;
  let small: ProxyHarness;

  before(async () => {
    echo = await startWsServer(echoHandler);
    deflating = await startWsServer(echoHandler, { perMessageDeflate: { threshold: 0 } });
    px = await startProxy(echo.origin);
    small = await startProxy(echo.origin, { recorder: new CollectingRecorder(true, 1024, { frames: true, maxBytes: 3000 }) });
  });
  after(async () => {
    await px.close();
    await small.close();
    await echo.close();
    await deflating.close();
  });

  it('records text, binary, fragmented messages, ping/pong and the close code both ways', async () => {
    const before = px.recorder.drafts.length;
    const client = await openClient(`ws://127.0.0.1:${px.port}/echo`, { perMessageDeflate: false });
    const echoes = nextMessages(client, 3);
    client.send('hello');
    client.send(Buffer.from([0, 1, 2, 255]));
    // One message in three fragments.
    client.send('frag-', { fin: false });
    client.send('ment-', { fin: false });
    client.send('ed', { fin: true });
    assert.deepEqual(await echoes, ['hello', Buffer.from([0, 1, 2, 255]), 'frag-ment-ed']);
    const pong = once(client, 'pong');
    client.ping(Buffer.from('p1'));
    await pong;
    assert.equal(await closeClient(client, 4001, 'done'), 4001);

    await waitFor(() => px.recorder.drafts.length === before + 1, 'the record');
    const ws = px.recorder.drafts.at(-1)!.websocket!;
    assert.equal(ws.deflate, false);
    assert.equal(ws.stopped, null);
    assert.equal(ws.dropped, 0);
    // Each direction in its own order (the two interleave as the sockets deliver them).
    const c2s = ws.messages.filter((m) => m.dir === 'c2s');
    const s2c = ws.messages.filter((m) => m.dir === 's2c');
    assert.deepEqual(shape(c2s.slice(0, 4)), [
      ['c2s', 'text', 'hello'],
      ['c2s', 'binary', '000102ff'],
      ['c2s', 'text', 'frag-ment-ed'],
      ['c2s', 'ping', Buffer.from('p1').toString('hex')],
    ]);
    assert.deepEqual(shape(s2c.slice(0, 4)), [
      ['s2c', 'text', 'hello'],
      ['s2c', 'binary', '000102ff'],
      ['s2c', 'text', 'frag-ment-ed'],
      ['s2c', 'pong', Buffer.from('p1').toString('hex')],
    ]);
    assert.deepEqual([c2s.length, s2c.length], [5, 5]);
    assert.deepEqual(px.observer.websockets.at(-1), { c2s: 5, s2c: 5, dropped: 0, stopped: false });
    const closes = ws.messages.filter((m) => m.opcode === 'close');
    assert.deepEqual(
      closes.map((m) => [m.dir, m.close_code, m.close_reason]),
      [
        ['c2s', 4001, 'done'],
        ['s2c', 4001, 'done'],
      ],
    );
    for (let i = 1; i < ws.messages.length; i++) assert.ok(ws.messages[i]!.t_us >= ws.messages[i - 1]!.t_us, 'offsets grow');
  });

  async function deflateCase(origin: string, extension: RegExp): Promise<void> {
    const px2 = await startProxy(origin);
    try {
      const client = await openClient(`ws://127.0.0.1:${px2.port}/z`, { perMessageDeflate: { threshold: 0 } });
      const texts = ['{"a":"repeat repeat repeat"}', '{"a":"repeat repeat repeat"}', 'x'.repeat(5000), 'ünïcødé'];
      const echoes = nextMessages(client, texts.length + 1);
      for (const t of texts) client.send(t);
      client.send(Buffer.alloc(3000, 7));
      const got = await echoes;
      assert.deepEqual(got.slice(0, texts.length), texts);
      await closeClient(client);
      await waitFor(() => px2.recorder.drafts.length === 1, 'the record');
      const d = px2.recorder.drafts[0]!;
      assert.match(d.response!.headers.find(([n]) => n.toLowerCase() === 'sec-websocket-extensions')![1], extension);
      const ws = d.websocket!;
      assert.equal(ws.deflate, true);
      assert.equal(ws.stopped, null);
      const data = ws.messages.filter((m) => m.opcode === 'text' || m.opcode === 'binary');
      assert.equal(data.length, 10);
      for (const dir of ['c2s', 's2c'] as const) {
        const mine = data.filter((m) => m.dir === dir);
        assert.deepEqual(
          mine.slice(0, 4).map((m) => m.data.toString('utf8')),
          texts,
          `${dir} inflated`,
        );
        assert.ok(mine[4]!.data.equals(Buffer.alloc(3000, 7)));
        assert.equal(mine[4]!.size, 3000);
      }
    } finally {
      await px2.close();
    }
  }

  it('inflates permessage-deflate messages, keeping the window from one message to the next', async () => {
    await deflateCase(deflating.origin, /^permessage-deflate/);
  });

  it('inflates permessage-deflate messages with the window reset per message (no_context_takeover both ways)', async () => {
    const resetting = await startWsServer(echoHandler, { perMessageDeflate: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true } });
    try {
      await deflateCase(resetting.origin, /server_no_context_takeover.*client_no_context_takeover|client_no_context_takeover.*server_no_context_takeover/);
    } finally {
      await resetting.close();
    }
  });

  it('cuts a message over the body cap with a mark, and counts messages over the connection budget', async () => {
    const client = await openClient(`ws://127.0.0.1:${small.port}/big`, { perMessageDeflate: false });
    const echoes = nextMessages(client, 3);
    client.send('a'.repeat(5000));
    client.send('b'.repeat(5000));
    client.send('third');
    await echoes;
    await closeClient(client);
    await waitFor(() => small.recorder.drafts.length === 1, 'the record');
    const ws = small.recorder.drafts[0]!.websocket!;
    const first = ws.messages[0]!;
    assert.deepEqual([first.dir, first.opcode, first.size, first.data.length, first.truncated], ['c2s', 'text', 5000, 1024, true]);
    assert.equal(first.data.toString(), 'a'.repeat(1024));
    // 3000 bytes per connection: whichever message comes third keeps the rest, later ones are counted only.
    const kept = ws.messages.filter((m) => m.opcode !== 'close').reduce((n, m) => n + m.data.length, 0);
    assert.equal(kept, 3000);
    assert.equal(ws.dropped + ws.messages.filter((m) => m.opcode !== 'close').length, 6);
    assert.ok(ws.dropped >= 2, `messages over the budget counted: ${ws.dropped}`);
    assert.ok(ws.messages.some((m) => m.opcode === 'close'), 'close frames kept beyond the budget');
  });

  it('keeps relaying a client that sends garbage after the upgrade, and marks the record', async () => {
    const before = px.recorder.drafts.length;
    const { socket, received } = await rawUpgrade(px.port);
    const headEnd = received().indexOf('\r\n\r\n') + 4;
    socket.write(clientFrame(1, Buffer.from('hi')));
    // The echo arrives unmasked: 0x81 0x02 "hi".
    await waitFor(() => received().subarray(headEnd).includes(Buffer.from([0x81, 0x02, 0x68, 0x69])), 'the echo through the relay');
    socket.write(Buffer.from('this is not a websocket frame at all\r\n'));
    // The server sees the garbage (relayed byte for byte) and closes with 1002 (protocol error).
    await waitFor(() => received().subarray(headEnd + 4).includes(Buffer.from([0x03, 0xea])), 'the server\'s 1002 close through the relay');
    socket.destroy();
    await waitFor(() => px.recorder.drafts.length === before + 1, 'the record');
    const ws = px.recorder.drafts.at(-1)!.websocket!;
    assert.deepEqual(shape(ws.messages.slice(0, 2)), [
      ['c2s', 'text', 'hi'],
      ['s2c', 'text', 'hi'],
    ]);
    assert.equal(ws.stopped?.dir, 'c2s');
    assert.ok(ws.stopped.reason.length > 0);

    // The proxy goes on serving WebSockets.
    const client = await openClient(`ws://127.0.0.1:${px.port}/after`, { perMessageDeflate: false });
    const echoed = nextMessages(client, 1);
    client.send('still fine');
    assert.deepEqual(await echoed, ['still fine']);
    await closeClient(client);
  });

  it('records no frames when recording.websocket.frames is false', async () => {
    const off = await startProxy(echo.origin, { recorder: new CollectingRecorder(true, 1024, { frames: false, maxBytes: 0 }) });
    try {
      const client = await openClient(`ws://127.0.0.1:${off.port}/off`, { perMessageDeflate: false });
      const echoed = nextMessages(client, 1);
      client.send('x');
      await echoed;
      await closeClient(client);
      await waitFor(() => off.recorder.drafts.length === 1, 'the record');
      assert.equal(off.recorder.drafts[0]!.status, 101);
      assert.equal(off.recorder.drafts[0]!.websocket, undefined);
    } finally {
      await off.close();
    }
  });
});
