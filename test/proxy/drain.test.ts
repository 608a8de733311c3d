import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend } from '../helpers/backend.js';
import type { EchoBackend } from '../helpers/backend.js';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import { send, startProxy, waitFor } from './harness.js';

/** Requests to /gate/* wait until the test releases them. */
function gatedBackend(): { held: Map<string, ServerResponse>; route: (req: IncomingMessage, res: ServerResponse) => boolean } {
  const held = new Map<string, ServerResponse>();
  return {
    held,
    route: (req, res) => {
      if (!req.url?.startsWith('/gate/')) return false;
      req.resume();
      held.set(req.url, res);
      return true;
    },
  };
}

function release(res: ServerResponse | undefined, body: string): void {
  assert.ok(res, 'the gated request reached the backend');
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function connectResult(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('drain and close', () => {
  let backend: EchoBackend;
  const gate = gatedBackend();

  before(async () => {
    backend = await startEchoBackend({ route: gate.route });
  });
  after(() => backend.close());

  it('lets an in-flight request finish with Connection: close and refuses new connections', async () => {
    const px = await startProxy(backend.origin);
    const agent = new Agent({ keepAlive: true });
    try {
      const idle = await new Promise<{ status: number }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/warmup', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(idle.status, 200);
      const idleSocket = Object.values(agent.freeSockets)[0]?.[0];
      assert.ok(idleSocket, 'a kept-alive idle connection to the proxy');

      const pending = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/gate/drain', agent: false, headers: { Connection: 'keep-alive' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        });
        req.on('error', reject);
        req.end();
      });
      await waitFor(() => gate.held.has('/gate/drain'), 'the request to reach the backend');
      assert.equal(px.proxy.inFlight, 1);

      px.proxy.beginDrain();
      await once(idleSocket, 'close');
      assert.equal(await connectResult(px.port), 'ECONNREFUSED');

      const closing = px.proxy.close(10_000);
      release(gate.held.get('/gate/drain'), 'finished');
      const res = await pending;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'finished');
      assert.equal(res.connection, 'close');
      await closing;
      assert.equal(px.proxy.inFlight, 0);
      assert.equal(px.recorder.drafts.find((d) => d.request.url === '/gate/drain')?.status, 200);
    } finally {
      agent.destroy();
      await px.close();
    }
  });

  it('destroys what is still running at the deadline, and close() is idempotent', async () => {
    const px = await startProxy(backend.origin);
    const outcome = new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/gate/stuck', agent: false }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve('completed'));
        res.on('error', () => resolve('broken'));
      });
      req.on('error', () => resolve('broken'));
      req.end();
    });
    await waitFor(() => gate.held.has('/gate/stuck'), 'the request to reach the backend');
    const first = px.proxy.close(100);
    const second = px.proxy.close(100);
    assert.equal(first, second);
    await first;
    assert.equal(await outcome, 'broken');
    assert.equal(px.proxy.inFlight, 0);
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/gate/stuck'), 'the draft');
    assert.equal(px.recorder.drafts.find((d) => d.request.url === '/gate/stuck')?.error?.code, 'QP_ERR_CLIENT_ABORT');
  });

  it('refuses connections beyond maxConnections and counts them', async () => {
    const px = await startProxy(backend.origin, { limits: { maxConnections: 1 } });
    try {
      const held = netConnect({ host: '127.0.0.1', port: px.port });
      await once(held, 'connect');
      const second = netConnect({ host: '127.0.0.1', port: px.port });
      second.on('error', () => undefined);
      await once(second, 'close');
      await waitFor(() => px.observer.rejections.includes('too_many_connections'), 'the drop to be counted');
      held.destroy();
      await once(held, 'close');
      // Room again: a request on a fresh connection goes through.
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) status = (await send(px.port, { path: '/after-limit' }).catch(() => ({ status: 0 }))).status;
      assert.equal(status, 200);
    } finally {
      await px.close();
    }
  });
});

describe('drain on the TLS listener', () => {
  let pki: TestPki;
  let backend: EchoBackend;
  const gate = gatedBackend();

  before(async () => {
    pki = await makeTestPki();
    backend = await startEchoBackend({ route: gate.route });
  });
  after(async () => {
    await backend.close();
    await pki.cleanup();
  });

  it('sends GOAWAY to HTTP/2 sessions and lets their running streams finish', async () => {
    const px = await startProxy(backend.origin, { tls: { cert: pki.server.cert, key: pki.server.key } });
    const session = h2connect(`https://localhost:${px.port}`, { ca: pki.ca });
    session.on('error', () => undefined);
    try {
      const goaway = once(session, 'goaway');
      const stream = session.request({ ':path': '/gate/h2' });
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      const ended = once(stream, 'end');
      await waitFor(() => gate.held.has('/gate/h2'), 'the stream to reach the backend');
      px.proxy.beginDrain();
      await goaway;
      release(gate.held.get('/gate/h2'), 'h2 done');
      await ended;
      assert.equal(body, 'h2 done');
      await px.proxy.close(5_000);
      assert.equal(px.proxy.inFlight, 0);
    } finally {
      session.destroy();
      await px.close();
    }
  });
});
