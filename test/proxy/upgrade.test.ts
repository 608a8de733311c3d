import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startEchoBackend, startWsEchoBackend } from '../helpers/backend.js';
import type { EchoBackend, WsBackend } from '../helpers/backend.js';
import { headerValues, rawExchange, startProxy, waitFor } from './harness.js';
import type { ProxyHarness } from './harness.js';

/** Sends each message and collects the echoes in order. */
async function echoThrough(ws: WebSocket, messages: (string | Buffer)[]): Promise<(string | Buffer)[]> {
  const got: (string | Buffer)[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      got.push(isBinary ? data : data.toString('utf8'));
      if (got.length === messages.length) resolve();
    });
    ws.on('error', reject);
  });
  for (const m of messages) ws.send(m);
  await done;
  return got;
}

describe('WebSocket / Upgrade pass-through', () => {
  let ws: WsBackend;
  let px: ProxyHarness;

  before(async () => {
    ws = await startWsEchoBackend();
    px = await startProxy(ws.origin);
  });
  after(async () => {
    await px.close();
    await ws.close();
  });

  it('tunnels a WebSocket session both ways and records the handshake as a 101 exchange', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${px.port}/chat?room=1`, { headers: { 'X-Client': 'yes' } });
    await once(client, 'open');
    const messages: (string | Buffer)[] = ['hello', Buffer.from([0, 1, 2, 255]), 'x'.repeat(100_000), 'bye'];
    const echoed = await echoThrough(client, messages);
    assert.deepEqual(echoed, messages);
    client.close(4001, 'done');
    const [code] = (await once(client, 'close')) as [number, Buffer];
    assert.equal(code, 4001, 'close code propagated through the tunnel');

    const hs = ws.handshakes.at(-1)!;
    assert.deepEqual(headerValues(hs, 'x-client'), ['yes']);
    assert.deepEqual(headerValues(hs, 'upgrade'), ['websocket']);
    assert.deepEqual(headerValues(hs, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(headerValues(hs, 'via'), ['1.1 qproxy']);

    await waitFor(() => px.recorder.drafts.length === 1, 'the handshake draft');
    const d = px.recorder.drafts[0]!;
    assert.equal(d.status, 101);
    assert.equal(d.response?.status, 101);
    assert.equal(d.request.url, '/chat?room=1');
    assert.deepEqual(headerValues(d.request.headers, 'upgrade'), ['websocket']);
    assert.deepEqual(headerValues(d.response.headers, 'upgrade'), ['websocket']);
    assert.equal(d.error, null);
    const ev = px.observer.exchanges.at(-1)!;
    assert.equal(ev.status, 101);
    assert.ok(ev.bytesIn > 100_000 && ev.bytesOut > 100_000, `tunnel bytes counted: ${ev.bytesIn}/${ev.bytesOut}`);
    assert.deepEqual(px.observer.upgrades, ['open', 'close']);
    assert.equal(px.proxy.inFlight, 0);
  });

  it('relays a non-101 answer as an ordinary response and closes', async () => {
    const plain = await startEchoBackend();
    const px2 = await startProxy(plain.origin);
    try {
      const answer = await rawExchange(px2.port, 'GET /no-ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      const text = answer.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /\r\nConnection: close\r\n/);
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { url: string };
      assert.equal(body.url, '/no-ws');
      await waitFor(() => px2.recorder.drafts.length === 1, 'the draft');
      assert.equal(px2.recorder.drafts[0]!.status, 200);
      assert.equal(px2.recorder.drafts[0]!.response?.body.size, Buffer.byteLength(text.slice(text.indexOf('\r\n\r\n') + 4)));
    } finally {
      await px2.close();
      await plain.close();
    }
  });

  it('closes an idle tunnel after downstreamIdleMs', async () => {
    const px3 = await startProxy(ws.origin, { timeouts: { downstreamIdleMs: 150 } });
    try {
      const client = new WebSocket(`ws://127.0.0.1:${px3.port}/idle`);
      await once(client, 'open');
      await once(client, 'close');
      await waitFor(() => px3.recorder.drafts.length === 1, 'the draft');
      assert.equal(px3.recorder.drafts[0]!.error?.code, 'QP_ERR_TUNNEL_IDLE');
      assert.equal(px3.observer.exchanges[0]?.outcome, 'timeout');
    } finally {
      await px3.close();
    }
  });

  it('answers 502 on the raw socket when the upgrade downstream is unreachable', async () => {
    const px4 = await startProxy('http://127.0.0.1:1');
    try {
      const answer = (await rawExchange(px4.port, 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).toString('latin1');
      assert.match(answer, /^HTTP\/1\.1 502 /);
      assert.match(answer, /"code":"QP_ERR_DOWNSTREAM_CONNECT"/);
      await waitFor(() => px4.recorder.drafts.length === 1, 'the draft');
      assert.equal(px4.recorder.drafts[0]!.error?.code, 'QP_ERR_DOWNSTREAM_CONNECT');
      assert.equal(px4.recorder.drafts[0]!.status, 502);
    } finally {
      await px4.close();
    }
  });
});

describe('upgrade with a body is refused', () => {
  let backend: EchoBackend;
  before(async () => {
    backend = await startEchoBackend();
  });
  after(() => backend.close());

  it('does not tunnel an upgrade request that declares a body', async () => {
    const px = await startProxy(backend.origin);
    try {
      const answer = (await rawExchange(px.port, 'POST /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc')).toString('latin1');
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.equal(backend.paths.includes('/ws'), false);
    } finally {
      await px.close();
    }
  });
});
