import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { patternSha256, startEchoBackend, startRawBackend, startWsEchoBackend } from '../helpers/backend.js';
import type { Echo, EchoBackend, RawBackend, WsBackend } from '../helpers/backend.js';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import { headerValues, rawBodyJson, rawStatus, send, startProxy, waitFor } from './harness.js';
import type { ProxyHarness } from './harness.js';

interface H2Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
}

function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (head = h));
    stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ headers: head, trailers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

function httpsGet(port: number, ca: string, path: string, alpn?: string[]): Promise<{ status: number; body: Buffer; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false, ...(alpn ? { ALPNProtocols: alpn } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      const negotiated = (res.socket as import('node:tls').TLSSocket).alpnProtocol;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), alpn: negotiated }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS listener (ALPN h2 + http/1.1)', () => {
  let pki: TestPki;
  let backend: EchoBackend;
  let px: ProxyHarness;

  before(async () => {
    pki = await makeTestPki();
    backend = await startEchoBackend();
    px = await startProxy(backend.origin, { tls: { cert: pki.server.cert, key: pki.server.key } });
  });
  after(async () => {
    await px.close();
    await backend.close();
    await pki.cleanup();
  });

  it('serves HTTP/1.1 over TLS and records the TLS details', async () => {
    const res = await httpsGet(px.port, pki.ca, '/tls-h1', ['http/1.1']);
    assert.equal(res.status, 200);
    assert.equal(res.alpn, 'http/1.1');
    const echo = JSON.parse(res.body.toString()) as Echo;
    assert.deepEqual(headerValues(echo.headers, 'x-forwarded-proto'), ['https']);
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/tls-h1'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/tls-h1')!;
    assert.deepEqual(d.tls, { sni: 'localhost', alpn: 'http/1.1', version: 'TLSv1.3' });
    assert.equal(d.request.http_version, '1.1');
  });

  it('serves a client that offers no ALPN as HTTP/1.1', async () => {
    const res = await httpsGet(px.port, pki.ca, '/tls-no-alpn');
    assert.equal(res.status, 200);
    assert.equal(res.alpn, false);
  });

  it('answers 505 to "GET / HTTP/2.0" on a TLS connection negotiated as http/1.1, and real HTTP/2 still works', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: px.port, ca: pki.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    await once(socket, 'secureConnect');
    assert.equal(socket.alpnProtocol, 'http/1.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write('GET /fake-h2 HTTP/2.0\r\nHost: localhost\r\n\r\n');
    await once(socket, 'close');
    const answer = Buffer.concat(chunks);
    assert.equal(rawStatus(answer), 505);
    assert.equal(rawBodyJson<{ code: string }>(answer).code, 'QP_ERR_HTTP_VERSION');
    assert.equal(backend.paths.includes('/fake-h2'), false);

    const session = h2connect(`https://localhost:${px.port}`, { ca: pki.ca });
    try {
      const real = await h2Request(session, { ':method': 'POST', ':path': '/real-h2' }, Buffer.from('over h2'));
      assert.equal(real.headers[':status'], 200);
      assert.equal((JSON.parse(real.body.toString()) as Echo).body, 'over h2');
    } finally {
      session.close();
    }
  });

  it('serves HTTP/2: advertises 100 streams, forwards to HTTP/1.1 and records version 2.0', async () => {
    const session = h2connect(`https://localhost:${px.port}`, { ca: pki.ca });
    try {
      await once(session, 'remoteSettings');
      assert.equal(session.remoteSettings.maxConcurrentStreams, 100);
      const get = await h2Request(session, { ':path': '/h2?x=1', 'x-client': 'h2', cookie: ['a=1', 'b=2'] });
      assert.equal(get.headers[':status'], 200);
      assert.equal(get.headers['x-backend'], 'echo');
      assert.equal(get.headers['connection'], undefined);
      const echo = JSON.parse(get.body.toString()) as Echo;
      assert.equal(echo.url, '/h2?x=1');
      assert.equal(echo.httpVersion, '1.1');
      assert.deepEqual(headerValues(echo.headers, 'host'), [`localhost:${px.port}`]);
      assert.deepEqual(headerValues(echo.headers, 'cookie'), ['a=1; b=2'], 'cookie crumbs joined for HTTP/1.1 (RFC 9113 §8.2.3)');
      assert.deepEqual(headerValues(echo.headers, 'via'), ['2 qproxy'], 'received-protocol of HTTP/2 is "2" (RFC 9110 §7.6.3)');
      assert.deepEqual(headerValues(echo.headers, 'x-forwarded-proto'), ['https']);
      assert.equal(echo.headers.some(([n]) => n.startsWith(':')), false, 'no pseudo-headers downstream');

      const payload = Buffer.alloc(200_000, 0x7a);
      const post = await h2Request(session, { ':method': 'POST', ':path': '/h2-post', 'content-type': 'application/octet-stream' }, payload);
      const posted = JSON.parse(post.body.toString()) as Echo;
      assert.equal(posted.bodyLength, payload.length);
      assert.equal(posted.sha256, createHash('sha256').update(payload).digest('hex'));

      const big = await h2Request(session, { ':path': '/bytes/500000?trailer=1' });
      assert.equal(big.body.length, 500_000);
      assert.equal(createHash('sha256').update(big.body).digest('hex'), patternSha256(500_000));
      assert.equal(big.trailers['x-checksum'], patternSha256(500_000));

      await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/h2?x=1'), 'the draft');
      const d = px.recorder.drafts.find((x) => x.request.url === '/h2?x=1')!;
      assert.equal(d.request.http_version, '2.0');
      assert.equal(d.tls?.alpn, 'h2');
      assert.deepEqual(headerValues(d.request.headers, ':path'), ['/h2?x=1']);
      assert.equal(d.status, 200);
    } finally {
      session.close();
    }
  });

  it('answers an HTTP/2 downstream failure with a 502 on the stream', async () => {
    const down = await startProxy('http://127.0.0.1:1', { tls: { cert: pki.server.cert, key: pki.server.key } });
    const session = h2connect(`https://localhost:${down.port}`, { ca: pki.ca });
    try {
      const res = await h2Request(session, { ':path': '/down' });
      assert.equal(res.headers[':status'], 502);
      assert.equal((JSON.parse(res.body.toString()) as { code: string }).code, 'QP_ERR_DOWNSTREAM_CONNECT');
    } finally {
      session.close();
      await down.close();
    }
  });

  it('resets the HTTP/2 stream when the downstream fails after the response started', async () => {
    const stalling = await startProxy(backend.origin, { tls: { cert: pki.server.cert, key: pki.server.key }, timeouts: { downstreamIdleMs: 200 } });
    const session = h2connect(`https://localhost:${stalling.port}`, { ca: pki.ca });
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':path': '/stall-after/1000' });
      let bytes = 0;
      let streamError = '';
      stream.on('data', (c: Buffer) => (bytes += c.length));
      stream.on('error', (err: NodeJS.ErrnoException) => (streamError = err.code ?? ''));
      const closed = new Promise((resolve) => stream.on('close', resolve));
      const [status] = (await once(stream, 'response')) as [IncomingHttpHeaders];
      assert.equal(status[':status'], 200);
      await closed;
      assert.equal(stream.rstCode, 2, 'RST_STREAM INTERNAL_ERROR');
      assert.equal(streamError, 'ERR_HTTP2_STREAM_ERROR');
      assert.equal(bytes, 1000);
      assert.equal(session.closed || session.destroyed, false, 'only the stream was reset, not the session');
      await waitFor(() => stalling.recorder.drafts.length === 1, 'the draft');
      assert.equal(stalling.recorder.drafts[0]!.error?.code, 'QP_ERR_DOWNSTREAM_TIMEOUT');
    } finally {
      session.close();
      await stalling.close();
    }
  });

  it('proxies WebSocket over the TLS listener (wss → ws)', async () => {
    const ws = await startWsEchoBackend();
    const wsProxy = await startProxy(ws.origin, { tls: { cert: pki.server.cert, key: pki.server.key } });
    try {
      const client = new WebSocket(`wss://localhost:${wsProxy.port}/secure`, { ca: pki.ca });
      await once(client, 'open');
      client.send('over tls');
      const [data] = (await once(client, 'message')) as [Buffer];
      assert.equal(data.toString(), 'over tls');
      client.close();
      await once(client, 'close');
      await waitFor(() => wsProxy.recorder.drafts.length === 1, 'the draft');
      // ws offers no ALPN: the socket went to the HTTP/1.1 server all the same.
      assert.deepEqual(wsProxy.recorder.drafts[0]!.tls, { sni: 'localhost', alpn: null, version: 'TLSv1.3' });
      assert.equal(wsProxy.recorder.drafts[0]!.status, 101);
    } finally {
      await wsProxy.close();
      await ws.close();
    }
  });
});

describe('malformed HTTP/2 requests (RFC 9113 §8.2.2)', () => {
  let pki: TestPki;
  let raw: RawBackend;
  let px: ProxyHarness;

  before(async () => {
    pki = await makeTestPki();
    raw = await startRawBackend();
    px = await startProxy(raw.origin, { tls: { cert: pki.server.cert, key: pki.server.key } });
  });
  after(async () => {
    await px.close();
    await raw.close();
    await pki.cleanup();
  });

  function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(stream, 5);
    return Buffer.concat([head, payload]);
  }

  /** HPACK "literal without indexing, new name", no Huffman; short strings only. */
  function literal(name: string, value: string): Buffer {
    return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
  }

  /** Sends one HEADERS frame (END_STREAM|END_HEADERS) and returns the frame types received for stream 1. */
  async function sendRawH2(extra: [string, string]): Promise<{ type: number; payload: Buffer }[]> {
    const block = Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'https'), literal(':path', '/bad'), literal(':authority', 'localhost'), literal(...extra)]);
    const socket = tlsConnect({ host: '127.0.0.1', port: px.port, ca: pki.ca, servername: 'localhost', ALPNProtocols: ['h2'] });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x5, 1, block)]));
    const frames: { type: number; payload: Buffer }[] = [];
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
          const len = buf.readUIntBE(0, 3);
          if (buf.readUInt32BE(5) === 1) frames.push({ type: buf[3]!, payload: buf.subarray(9, 9 + len) });
          buf = buf.subarray(9 + len);
        }
        // Stream 1 ended: RST_STREAM (3) or a final DATA/HEADERS with END_STREAM.
        if (frames.some((f) => f.type === 3) || frames.some((f) => f.type === 0)) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('close', () => resolve());
    });
    return frames;
  }

  for (const field of [
    ['connection', 'keep-alive'],
    ['transfer-encoding', 'chunked'],
    ['te', 'gzip'],
    ['upgrade', 'websocket'],
    ['keep-alive', 'timeout=5'],
  ] as [string, string][]) {
    it(`resets a stream carrying "${field[0]}" and forwards nothing`, async () => {
      const frames = await sendRawH2(field);
      const rst = frames.find((f) => f.type === 3);
      assert.ok(rst, `expected RST_STREAM, got frame types ${frames.map((f) => f.type).join(',')}`);
      assert.equal(rst.payload.readUInt32BE(0), 1, 'PROTOCOL_ERROR');
      assert.equal(raw.received().length, 0);
    });
  }

  it('the same raw client with a clean header is forwarded (the probe can see forwarding)', async () => {
    const frames = await sendRawH2(['x-ok', 'fine']);
    assert.ok(frames.some((f) => f.type === 1), 'a response HEADERS frame');
    assert.match(raw.received().toString('latin1'), /^GET \/bad HTTP\/1\.1\r\n/);
  });
});

describe('https downstreams', () => {
  let pki: TestPki;
  let backend: EchoBackend;
  let wss: WsBackend;

  before(async () => {
    pki = await makeTestPki();
    backend = await startEchoBackend({ tls: pki.server });
    wss = await startWsEchoBackend({ tls: pki.server });
  });
  after(async () => {
    await backend.close();
    await wss.close();
    await pki.cleanup();
  });

  it('verifies the downstream against the configured CA and keeps connections alive', async () => {
    const px = await startProxy(backend.origin, { downstreamTls: { ca: pki.ca, rejectUnauthorized: true, servername: 'localhost' } });
    try {
      const first = backend.connections;
      for (let i = 0; i < 3; i++) {
        const r = await send(px.port, { path: `/secure-down/${i}` });
        assert.equal(r.status, 200);
        assert.equal((JSON.parse(r.body.toString()) as Echo).url, `/secure-down/${i}`);
      }
      assert.ok(backend.connections - first <= 1, 'one pooled TLS connection carried the requests');
    } finally {
      await px.close();
    }
  });

  it('refuses a downstream certificate it cannot verify: 502 QP_ERR_DOWNSTREAM_CONNECT', async () => {
    const px = await startProxy(backend.origin, { downstreamTls: { rejectUnauthorized: true } });
    try {
      const r = await send(px.port, { path: '/untrusted' });
      assert.equal(r.status, 502);
      assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'QP_ERR_DOWNSTREAM_CONNECT');
      await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
      assert.match(px.recorder.drafts[0]!.error!.message, /certificate|self.signed|issuer/i);
    } finally {
      await px.close();
    }
  });

  it('tunnels WebSocket to a wss downstream', async () => {
    const px = await startProxy(wss.origin, { downstreamTls: { ca: pki.ca, rejectUnauthorized: true, servername: 'localhost' } });
    try {
      const client = new WebSocket(`ws://127.0.0.1:${px.port}/to-wss`);
      await once(client, 'open');
      client.send('to tls backend');
      const [data] = (await once(client, 'message')) as [Buffer];
      assert.equal(data.toString(), 'to tls backend');
      client.close();
      await once(client, 'close');
    } finally {
      await px.close();
    }
  });
});
