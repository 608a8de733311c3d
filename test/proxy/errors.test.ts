import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend } from '../helpers/backend.js';
import type { EchoBackend } from '../helpers/backend.js';
import { send, startProxy, waitFor } from './harness.js';

/** A port that was just free: listen, note the port, close. Connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('downstream failures', () => {
  it('answers 502 with a JSON body when the downstream refuses the connection, and records it', async () => {
    const port = await closedPort();
    const px = await startProxy(`http://127.0.0.1:${port}`);
    try {
      const res = await send(px.port, { path: '/nowhere' });
      assert.equal(res.status, 502);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(res.body.toString()), { error: 'downstream unreachable', code: 'QP_ERR_DOWNSTREAM_CONNECT' });
      await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
      const d = px.recorder.drafts[0]!;
      assert.equal(d.status, 502);
      assert.equal(d.response, null);
      assert.equal(d.error?.code, 'QP_ERR_DOWNSTREAM_CONNECT');
      assert.match(d.error.message, /ECONNREFUSED|connect/i);
      assert.equal(d.downstream, `http://127.0.0.1:${port}`);
      assert.equal(d.timings.response_start, null);
      assert.equal(px.observer.exchanges[0]?.outcome, 'downstream_error');
      assert.equal(px.observer.exchanges[0]?.status, 502);
    } finally {
      await px.close();
    }
  });

  it('answers 502 (reset) when the downstream drops the connection before answering', async () => {
    const rude = createNetServer((s) => s.once('data', () => s.destroy()));
    rude.listen(0, '127.0.0.1');
    await once(rude, 'listening');
    const px = await startProxy(`http://127.0.0.1:${(rude.address() as AddressInfo).port}`);
    try {
      const res = await send(px.port, { path: '/drop' });
      assert.equal(res.status, 502);
      assert.equal((JSON.parse(res.body.toString()) as { code: string }).code, 'QP_ERR_DOWNSTREAM_RESET');
      await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
      assert.equal(px.recorder.drafts[0]!.error?.code, 'QP_ERR_DOWNSTREAM_RESET');
    } finally {
      await px.close();
      await new Promise<void>((resolve) => rude.close(() => resolve()));
    }
  });

  describe('timeouts and aborts against a live backend', () => {
    let backend: EchoBackend;
    const closedOnBackend: string[] = [];

    before(async () => {
      backend = await startEchoBackend({
        route: (req: IncomingMessage, res: ServerResponse) => {
          res.on('close', () => {
            if (!res.writableFinished) closedOnBackend.push(req.url ?? '');
          });
          return false;
        },
      });
    });
    after(() => backend.close());

    it('answers 504 when the downstream does not send a response head in time', async () => {
      const px = await startProxy(backend.origin, { timeouts: { downstreamResponseMs: 200 } });
      try {
        const res = await send(px.port, { path: '/hang' });
        assert.equal(res.status, 504);
        assert.deepEqual(JSON.parse(res.body.toString()), { error: 'downstream did not answer in time', code: 'QP_ERR_DOWNSTREAM_TIMEOUT' });
        await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
        const d = px.recorder.drafts[0]!;
        assert.equal(d.status, 504);
        assert.equal(d.error?.code, 'QP_ERR_DOWNSTREAM_TIMEOUT');
        assert.equal(px.observer.exchanges[0]?.outcome, 'timeout');
      } finally {
        await px.close();
      }
    });

    it('breaks the client connection when the downstream body stalls after the response started', async () => {
      const px = await startProxy(backend.origin, { timeouts: { downstreamIdleMs: 200 } });
      try {
        const outcome = await new Promise<{ status: number; bytes: number; error: string }>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/stall-after/1000', agent: false }, (res) => {
            let bytes = 0;
            res.on('data', (c: Buffer) => (bytes += c.length));
            res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: res.statusCode ?? 0, bytes, error: err.code ?? err.message }));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, error: 'none' }));
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, bytes: 0, error: err.code ?? err.message }));
          req.end();
        });
        assert.equal(outcome.status, 200, 'the head was already relayed');
        assert.equal(outcome.bytes, 1000);
        assert.notEqual(outcome.error, 'none', 'the response must not look complete');
        await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
        const d = px.recorder.drafts[0]!;
        assert.equal(d.error?.code, 'QP_ERR_DOWNSTREAM_TIMEOUT');
        assert.equal(d.status, 200);
        assert.equal(d.response?.body.size, 1000);
        assert.equal(d.timings.response_end, null);
      } finally {
        await px.close();
      }
    });

    it('breaks the client connection when the downstream resets mid-body', async () => {
      const px = await startProxy(backend.origin);
      try {
        const error = await new Promise<string>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/reset-after/5000', agent: false }, (res) => {
            res.on('data', () => undefined);
            res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
            res.on('end', () => resolve('complete'));
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
          req.end();
        });
        assert.notEqual(error, 'complete');
        await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
        assert.equal(px.recorder.drafts[0]!.error?.code, 'QP_ERR_DOWNSTREAM_RESET');
        assert.equal(px.observer.exchanges[0]?.outcome, 'downstream_error');
      } finally {
        await px.close();
      }
    });

    it('aborts the downstream request when the client goes away, and records the abort', async () => {
      const px = await startProxy(backend.origin);
      try {
        const req = httpRequest({ host: '127.0.0.1', port: px.port, path: '/hang?abort=1', agent: false });
        req.on('error', () => undefined);
        req.end();
        await waitFor(() => backend.paths.includes('/hang?abort=1'), 'the request to reach the backend');
        req.destroy();
        await waitFor(() => closedOnBackend.includes('/hang?abort=1'), 'the downstream request to be aborted');
        await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
        const d = px.recorder.drafts[0]!;
        assert.equal(d.error?.code, 'QP_ERR_CLIENT_ABORT');
        assert.equal(d.status, null);
        assert.equal(px.observer.exchanges[0]?.outcome, 'client_abort');
        assert.equal(px.observer.exchanges[0]?.status, 499);
        assert.equal(px.proxy.inFlight, 0);
      } finally {
        await px.close();
      }
    });

    it('aborts the downstream request when the client dies in the middle of its upload', async () => {
      const px = await startProxy(backend.origin);
      try {
        const req = httpRequest({ host: '127.0.0.1', port: px.port, method: 'POST', path: '/upload-abort', agent: false });
        req.on('error', () => undefined);
        req.write(Buffer.alloc(10_000, 0x61));
        await waitFor(() => backend.paths.includes('/upload-abort'), 'the request to reach the backend');
        req.destroy();
        await waitFor(() => closedOnBackend.includes('/upload-abort'), 'the downstream request to be aborted');
        await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
        const d = px.recorder.drafts[0]!;
        assert.equal(d.error?.code, 'QP_ERR_CLIENT_ABORT');
        assert.equal(d.request.body.size, 10_000);
        assert.equal(d.timings.request_end, null);
      } finally {
        await px.close();
      }
    });
  });
});
