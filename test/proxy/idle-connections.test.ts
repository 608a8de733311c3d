import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startEchoBackend } from '../helpers/backend.js';
import type { EchoBackend } from '../helpers/backend.js';
import { openIdleClients, silentAfterHandshake, waitUntil } from '../helpers/idle-clients.js';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import { startProxy } from './harness.js';
import type { ProxyHarness } from './harness.js';

/**
 * Issue 17 defect 4: connections that never deliver a request head must not outlive
 * http.timeouts.header_read — on the plain listener, on the TLS listener (a handshake that never
 * ends, a handshake that ends and then silence, an HTTP/2 session that never opens a stream) — and
 * an idle keep-alive connection must not outlive http.timeouts.idle. The deadlines are short here;
 * every test waits (bounded) for the server to close the connections, never on a clock.
 */

const HEAD_MS = 300;
/** Much longer than any bound below: a connection closed in these tests was closed by header_read. */
const LONG_MS = 120_000;

let backend: EchoBackend;
let pki: TestPki;

before(async () => {
  backend = await startEchoBackend();
  pki = await makeTestPki();
});
after(async () => {
  await backend.close();
  await pki.cleanup();
});

describe('connections that send no request head (plain listener)', () => {
  let px: ProxyHarness;

  before(async () => {
    px = await startProxy(backend.origin, { timeouts: { headerReadMs: HEAD_MS, requestMs: LONG_MS, idleMs: LONG_MS } });
  });
  after(() => px.close());

  it('closes 200 silent connections with 408 and counts each', async () => {
    const before = px.observer.rejections.filter((r) => r === 'request_timeout').length;
    const clients = await openIdleClients(px.port, 200);
    try {
      await clients.waitAllClosed();
      assert.match(clients.received(0).toString('latin1'), /^HTTP\/1\.1 408 /);
      await waitUntil(() => px.observer.rejections.filter((r) => r === 'request_timeout').length === before + 200, 'the 200 timeouts to be counted');
    } finally {
      clients.destroy();
    }
  });

  it('closes a connection whose next head never comes after idle keep-alive', async () => {
    const short = await startProxy(backend.origin, { timeouts: { headerReadMs: LONG_MS, requestMs: LONG_MS, idleMs: HEAD_MS } });
    try {
      const socket = netConnect({ host: '127.0.0.1', port: short.port });
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      await once(socket, 'connect');
      socket.write('GET /once HTTP/1.1\r\nHost: a\r\n\r\n');
      // The connection stays open after the answer (keep-alive) until idle passes.
      await once(socket, 'close');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.equal(text.match(/^HTTP\/1\.1 /gm)?.length, 1);
    } finally {
      await short.close();
    }
  });
});

describe('connections that send no request head (TLS listener)', () => {
  let px: ProxyHarness;

  before(async () => {
    px = await startProxy(backend.origin, {
      tls: { cert: pki.server.cert, key: pki.server.key },
      timeouts: { headerReadMs: HEAD_MS, requestMs: LONG_MS, idleMs: LONG_MS },
    });
  });
  after(() => px.close());

  it('closes TCP connections that never start the TLS handshake', async () => {
    const clients = await openIdleClients(px.port, 100);
    try {
      await clients.waitAllClosed();
      await waitUntil(() => px.observer.rejections.filter((r) => r === 'tls_handshake').length >= 100, 'the handshake timeouts to be counted');
    } finally {
      clients.destroy();
    }
  });

  it('closes connections that stop in the middle of the ClientHello', async () => {
    // A TLS record header announcing 512 bytes of handshake, and only the first few of them.
    const partialHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const clients = await openIdleClients(px.port, 20, { send: partialHello });
    try {
      await clients.waitAllClosed();
    } finally {
      clients.destroy();
    }
  });

  it('closes an HTTP/1.1 connection that finishes the handshake and then sends nothing, with 408', async () => {
    const answer = await silentAfterHandshake(px.port, pki.ca, ['http/1.1']);
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 408 /);
  });

  it('closes an HTTP/2 session that never opens a stream, and counts it', async () => {
    const before = px.observer.rejections.filter((r) => r === 'request_timeout').length;
    const session = h2connect(`https://localhost:${px.port}`, { ca: pki.ca });
    session.on('error', () => {});
    // Pings keep Node's idle timer from ever firing; the head deadline must not care.
    const pinger = setInterval(() => {
      if (!session.closed && !session.destroyed) session.ping(() => {});
    }, HEAD_MS / 3);
    try {
      await once(session, 'close');
    } finally {
      clearInterval(pinger);
    }
    await waitUntil(() => px.observer.rejections.filter((r) => r === 'request_timeout').length === before + 1, 'the timeout to be counted');
  });

  it('leaves an HTTP/2 session alone once it opened a stream', async () => {
    const session = h2connect(`https://localhost:${px.port}`, { ca: pki.ca });
    try {
      const get = async (path: string): Promise<unknown> => {
        const stream = session.request({ ':path': path });
        const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
        stream.resume();
        await once(stream, 'end');
        return headers[':status'];
      };
      assert.equal(await get('/first'), 200);
      // Three head deadlines later the session still takes requests (its idle timeout is long).
      await delay(HEAD_MS * 3);
      assert.equal(session.closed, false);
      assert.equal(await get('/later'), 200);
    } finally {
      session.close();
    }
  });
});

describe('http.limits.max_connections', () => {
  let px: ProxyHarness;

  before(async () => {
    px = await startProxy(backend.origin, { limits: { maxConnections: 5 }, timeouts: { headerReadMs: LONG_MS, requestMs: LONG_MS, idleMs: LONG_MS } });
  });
  after(() => px.close());

  it('closes connections beyond the limit on accept and counts them', async () => {
    const held = await openIdleClients(px.port, 5);
    const extra = await openIdleClients(px.port, 3);
    try {
      await extra.waitAllClosed();
      assert.equal(held.closedByServer(), 0, 'the connections within the limit stay open');
      await waitUntil(() => px.observer.rejections.filter((r) => r === 'too_many_connections').length === 3, 'the 3 refusals to be counted');
    } finally {
      held.destroy();
      extra.destroy();
    }
  });
});
