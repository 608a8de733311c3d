import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Discovery, parseHttpTarget } from '../../src/discovery/index.js';
import { HttpProxyServer } from '../../src/proxy/http/index.js';
import { startEchoBackend, patternSha256 } from '../helpers/backend.js';
import type { Echo, EchoBackend } from '../helpers/backend.js';
import { CollectingRecorder, discoveryOptions, headerValues, rawExchange, send, startProxy, waitFor } from './harness.js';
import type { ProxyHarness } from './harness.js';
import { pino } from 'pino';

function echoOf(body: Buffer): Echo {
  return JSON.parse(body.toString('utf8')) as Echo;
}

describe('HTTP proxy forwarding', () => {
  let backend: EchoBackend;
  let px: ProxyHarness;

  before(async () => {
    backend = await startEchoBackend();
    px = await startProxy(backend.origin);
  });
  after(async () => {
    await px.close();
    await backend.close();
  });

  it('forwards a GET and records the exchange with headers in order and case', async () => {
    const before = px.recorder.drafts.length;
    const res = await send(px.port, { path: '/hello?x=1', headers: ['X-Zeta', 'z', 'x-alpha', 'a', 'X-MiXeD', 'm', 'Host', 'svc.test'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-backend'], 'echo');
    const echo = echoOf(res.body);
    assert.equal(echo.method, 'GET');
    assert.equal(echo.url, '/hello?x=1');
    const names = echo.headers.map(([n]) => n);
    assert.ok(names.indexOf('X-Zeta') < names.indexOf('x-alpha') && names.indexOf('x-alpha') < names.indexOf('X-MiXeD'), `order kept: ${names.join(',')}`);
    assert.deepEqual(headerValues(echo.headers, 'host'), ['svc.test']);

    await waitFor(() => px.recorder.drafts.length > before, 'the draft');
    const d = px.recorder.drafts.at(-1)!;
    assert.equal(d.protocol, 'http');
    assert.equal(d.request.method, 'GET');
    assert.equal(d.request.url, '/hello?x=1');
    assert.equal(d.request.http_version, '1.1');
    assert.deepEqual(d.request.headers.slice(0, 4), [['X-Zeta', 'z'], ['x-alpha', 'a'], ['X-MiXeD', 'm'], ['Host', 'svc.test']]);
    assert.equal(d.downstream, backend.origin);
    assert.equal(d.client.address, '127.0.0.1');
    assert.ok(d.client.port > 0);
    assert.equal(d.tls, null);
    assert.equal(d.status, 200);
    assert.equal(d.error, null);
    assert.equal(d.response?.status, 200);
    assert.equal(d.response?.status_message, 'OK');
    assert.deepEqual(headerValues(d.response.headers, 'x-backend'), ['echo']);
    assert.equal(d.response?.body.data.toString('utf8'), res.body.toString('utf8'));
    assert.equal(d.response?.body.truncated, false);
    assert.ok(d.timings.request_end !== null && d.timings.response_start !== null && d.timings.response_end !== null);
    assert.ok(d.timings.request_end <= d.timings.response_start && d.timings.response_start <= d.timings.response_end);
    assert.ok(d.duration_ms >= d.timings.response_end);
    assert.ok(Math.abs(d.started_at - Date.now()) < 60_000);
    const ev = px.observer.exchanges.at(-1)!;
    assert.equal(ev.outcome, 'ok');
    assert.equal(ev.status, 200);
    assert.equal(ev.bytesOut, res.body.length);
  });

  it('streams a POST body with Content-Length and captures it', async () => {
    const body = Buffer.from('{"hello":"world"}');
    const res = await send(px.port, { method: 'POST', path: '/submit', headers: { 'Content-Type': 'application/json' }, body });
    const echo = echoOf(res.body);
    assert.equal(echo.method, 'POST');
    assert.equal(echo.body, body.toString());
    assert.deepEqual(headerValues(echo.headers, 'content-length'), [String(body.length)]);
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/submit'), 'the POST draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/submit')!;
    assert.equal(d.request.body.data.toString(), body.toString());
    assert.equal(d.request.body.size, body.length);
    assert.equal(px.observer.exchanges.some((e) => e.bytesIn === body.length), true);
  });

  it('forwards a chunked request body and its bytes arrive intact', async () => {
    const parts = [Buffer.from('alpha-'), Buffer.from('beta-'), Buffer.alloc(100_000, 0x61)];
    const whole = Buffer.concat(parts);
    // No Content-Length and an iterable body: Node's client sends it chunked.
    const res = await send(px.port, { method: 'PUT', path: '/chunked-up', body: parts });
    const echo = echoOf(res.body);
    assert.equal(echo.bodyLength, whole.length);
    assert.equal(echo.sha256, createHash('sha256').update(whole).digest('hex'));
    assert.deepEqual(headerValues(echo.headers, 'transfer-encoding'), ['chunked']);
  });

  it('records request trailers (undici cannot forward them, so they stop at the proxy)', async () => {
    const result = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: px.port, method: 'POST', path: '/req-trailers', agent: false, headers: { Trailer: 'X-Sum' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write('part-1;');
      req.addTrailers({ 'X-Sum': 'abc' });
      req.end('part-2');
    });
    assert.equal(result, 200);
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/req-trailers'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/req-trailers')!;
    assert.deepEqual(d.request.trailers, [['X-Sum', 'abc']]);
    assert.equal(d.request.body.data.toString(), 'part-1;part-2');
  });

  it('relays a chunked response and its trailers', async () => {
    const res = await send(px.port, { path: '/bytes/300000?trailer=1' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.body.length, 300_000);
    assert.equal(createHash('sha256').update(res.body).digest('hex'), patternSha256(300_000));
    assert.equal(res.trailers['x-checksum'], patternSha256(300_000));
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/bytes/300000?trailer=1'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/bytes/300000?trailer=1')!;
    assert.deepEqual(d.response?.trailers, [['X-Checksum', patternSha256(300_000)]]);
    // Recorder maxBody is 64 KiB in this suite: kept bytes stop there, the size does not.
    assert.equal(d.response?.body.data.length, 64 * 1024);
    assert.equal(d.response?.body.size, 300_000);
    assert.equal(d.response?.body.truncated, true);
  });

  it('removes hop-by-hop request fields, including Connection-nominated ones, and keeps the original in the record', async () => {
    const sent = [
      'Connection', 'keep-alive, X-Foo',
      'X-Foo', 'nominated',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'TE', 'trailers',
      'Upgrade', 'h2c',
      'X-End', 'to-end',
    ];
    const res = await send(px.port, { path: '/hop-req', headers: sent });
    const echo = echoOf(res.body);
    for (const gone of ['x-foo', 'keep-alive', 'proxy-connection', 'te', 'upgrade']) {
      assert.deepEqual(headerValues(echo.headers, gone), [], `${gone} must not reach the backend`);
    }
    assert.deepEqual(headerValues(echo.headers, 'connection'), ['keep-alive'], 'only undici’s own connection field');
    assert.deepEqual(headerValues(echo.headers, 'x-end'), ['to-end']);
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/hop-req'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/hop-req')!;
    const recorded = d.request.headers.flat();
    assert.deepEqual(recorded.slice(0, sent.length), sent);
  });

  it('refuses to let Connection strip Authorization or X-Forwarded-For (hop-by-hop abuse)', async () => {
    const res = await send(px.port, {
      path: '/abuse',
      headers: ['Connection', 'x-forwarded-for, authorization, cookie', 'Authorization', 'Bearer abc', 'X-Forwarded-For', '9.9.9.9', 'Cookie', 'a=1'],
    });
    const echo = echoOf(res.body);
    assert.deepEqual(headerValues(echo.headers, 'authorization'), ['Bearer abc']);
    assert.deepEqual(headerValues(echo.headers, 'cookie'), ['a=1']);
    assert.deepEqual(headerValues(echo.headers, 'x-forwarded-for'), ['127.0.0.1'], 'untrusted peer: replaced, not stripped');
  });

  it('removes hop-by-hop response fields and records the downstream head as received', async () => {
    const res = await send(px.port, { path: '/hop' });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'ok');
    assert.equal(res.headers['x-bar'], undefined);
    assert.equal(res.headers['proxy-connection'], undefined);
    assert.notEqual(res.headers['keep-alive'], 'timeout=5'); // Node may add its own keep-alive hint
    assert.equal(res.headers['x-kept'], 'yes');
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/hop'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/hop')!;
    assert.deepEqual(headerValues(d.response!.headers, 'x-bar'), ['nominated']);
    assert.deepEqual(headerValues(d.response!.headers, 'connection'), ['keep-alive, X-Bar']);
  });

  it('sets X-Forwarded-Proto, X-Forwarded-Host and appends to Via', async () => {
    const res = await send(px.port, { path: '/fwd', headers: { Host: 'shop.example:8443', Via: '1.1 edge', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'spoofed' } });
    const echo = echoOf(res.body);
    assert.deepEqual(headerValues(echo.headers, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(headerValues(echo.headers, 'x-forwarded-host'), ['shop.example:8443']);
    assert.deepEqual(headerValues(echo.headers, 'via'), ['1.1 edge, 1.1 qproxy']);
    assert.deepEqual(headerValues(echo.headers, 'host'), ['shop.example:8443']);
  });

  it('normalises an absolute-form target to origin-form with its authority as Host', async () => {
    const raw = await rawExchange(px.port, 'GET http://api.example:81/a/b?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n');
    const text = raw.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200/);
    const echo = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo;
    assert.equal(echo.url, '/a/b?q=1');
    assert.deepEqual(headerValues(echo.headers, 'host'), ['api.example:81']);
    assert.deepEqual(headerValues(echo.headers, 'x-forwarded-host'), ['api.example:81']);
  });

  it('answers HEAD without a body and passes Content-Length through', async () => {
    const res = await send(px.port, { method: 'HEAD', path: '/bytes/1234' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '1234');
    assert.equal(res.body.length, 0);
  });

  it('reuses pooled keep-alive connections to the downstream', async () => {
    const first = backend.connections;
    for (let i = 0; i < 6; i++) {
      const res = await send(px.port, { path: `/reuse/${i}` });
      assert.equal(res.status, 200);
    }
    // Requests from six separate client connections, sequentially: one downstream connection at most
    // is opened for them (the pool may already hold one from earlier tests).
    assert.ok(backend.connections - first <= 1, `opened ${backend.connections - first} new downstream connections`);
    const last = echoOf((await send(px.port, { path: '/reuse/last' })).body);
    assert.ok(last.connectionRequest > 1, 'the downstream connection carried several requests');
  });

  it('keeps the client connection usable when the downstream answers before the upload ended', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const upload = Buffer.alloc(4 * 1024 * 1024, 0x75);
      const first = await new Promise<number>((resolve, reject) => {
        // /status/401 answers at once without reading the body.
        const req = httpRequest({ host: '127.0.0.1', port: px.port, method: 'PUT', path: '/status/401', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(upload);
      });
      assert.equal(first, 401);
      const second = await new Promise<Echo>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/after-early', agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body) as Echo));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(second.url, '/after-early');
    } finally {
      agent.destroy();
    }
  });

  it('relays non-2xx statuses unchanged', async () => {
    const res = await send(px.port, { path: '/status/404' });
    assert.equal(res.status, 404);
    assert.equal(res.body.toString(), 'status 404');
    assert.equal(px.observer.exchanges.at(-1)?.outcome, 'ok');
  });
});

describe('HTTP proxy forwarding options', () => {
  let backend: EchoBackend;
  before(async () => {
    backend = await startEchoBackend();
  });
  after(() => backend.close());

  it('appends to X-Forwarded-For from a trusted peer and replaces it from an untrusted one', async () => {
    const trusted = await startProxy(backend.origin, { trustedProxies: ['127.0.0.0/8', '::1'] });
    const untrusted = await startProxy(backend.origin, { trustedProxies: ['10.0.0.0/8'] });
    try {
      const a = echoOf((await send(trusted.port, { headers: { 'X-Forwarded-For': '1.2.3.4, 5.6.7.8' } })).body);
      assert.deepEqual(headerValues(a.headers, 'x-forwarded-for'), ['1.2.3.4, 5.6.7.8, 127.0.0.1']);
      const b = echoOf((await send(untrusted.port, { headers: { 'X-Forwarded-For': '1.2.3.4' } })).body);
      assert.deepEqual(headerValues(b.headers, 'x-forwarded-for'), ['127.0.0.1']);
      const c = echoOf((await send(trusted.port)).body);
      assert.deepEqual(headerValues(c.headers, 'x-forwarded-for'), ['127.0.0.1']);
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });

  it('truncates captured bodies at maxBody and marks them, without touching the proxied bytes', async () => {
    const px = await startProxy(backend.origin, { recorder: new CollectingRecorder(true, 1024) });
    try {
      const body = Buffer.alloc(5000, 0x62);
      const res = await send(px.port, { method: 'POST', path: '/trunc', body });
      assert.equal(echoOf(res.body).bodyLength, 5000);
      await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
      const d = px.recorder.drafts[0]!;
      assert.equal(d.request.body.data.length, 1024);
      assert.equal(d.request.body.size, 5000);
      assert.equal(d.request.body.truncated, true);
      assert.equal(d.response?.body.data.length, 1024);
      assert.equal(d.response?.body.size, res.body.length);
      assert.equal(d.response?.body.truncated, true);
    } finally {
      await px.close();
    }
  });

  it('skips capture and commits nothing when the recorder is disabled, and still proxies', async () => {
    const px = await startProxy(backend.origin, { recorder: new CollectingRecorder(false) });
    try {
      const res = await send(px.port, { method: 'POST', path: '/off', body: 'data' });
      assert.equal(echoOf(res.body).body, 'data');
      await waitFor(() => px.observer.exchanges.length === 1, 'the exchange event');
      assert.equal(px.recorder.drafts.length, 0);
      assert.equal(px.observer.exchanges[0]!.bytesIn, 4);
    } finally {
      await px.close();
    }
  });

  it('rejects configuration it cannot use with a ConfigError naming the field', () => {
    const base = {
      host: '127.0.0.1',
      port: 0,
      downstreamTls: { rejectUnauthorized: true },
      limits: { maxHeaderSize: 16384, maxHeadersCount: 100, maxBodySize: 0, maxConnections: 0 },
      timeouts: { headerReadMs: 1000, requestMs: 0, idleMs: 1000, downstreamConnectMs: 1000, downstreamResponseMs: 1000, downstreamIdleMs: 1000 },
      recorder: new CollectingRecorder(),
      observer: { exchange() {}, rejected() {}, upgrade() {}, retry() {} },
      logger: pino({ level: 'silent' }),
      downstreams: new Discovery(discoveryOptions(['http://127.0.0.1:1'])),
    };
    assert.throws(() => new HttpProxyServer({ ...base, trustedProxies: ['not-an-ip'] }), {
      code: 'QP_ERR_CONFIG',
      message: /trustedProxies: "not-an-ip"/,
    });
    // Downstreams are checked where they are parsed, before a Discovery exists.
    assert.throws(() => parseHttpTarget('ftp://x'), { code: 'QP_ERR_BAD_TARGET', message: /ftp/ });
    assert.throws(() => new Discovery(discoveryOptions([])), { code: 'QP_ERR_CONFIG', message: /targets/ });
  });
});
