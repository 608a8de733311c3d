import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ApiServer } from '../../src/api/api-server.js';
import type { ApiOptions } from '../../src/api/api-server.js';
import { ConfigError, ListenError } from '../../src/core/errors.js';
import { MemoryRecords, call, memoryLogger, startApi } from './api-helpers.js';

const TOKEN = 'b1f4c2a9e07d4c55a8f3e2d1c0b9a8f7e6d5c4b3a2918070';

function options(overrides: Partial<ApiOptions>): ApiOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    records: new MemoryRecords(),
    status: () => ({}),
    metrics: { render: () => Promise.resolve(''), contentType: 'text/plain' },
    ready: () => true,
    logger: pino({ level: 'silent' }),
    ...overrides,
  };
}

describe('bearer token', () => {
  test('without the header → 401 with WWW-Authenticate: Bearer', async (t) => {
    const { port } = await startApi(t, { token: TOKEN });
    for (const path of ['/api/records', '/api/status', '/metrics', '/api/records/abc', '/no-such-route']) {
      const res = await call(port, 'GET', path);
      assert.equal(res.status, 401, path);
      assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
      assert.equal(res.json().code, 'QP_ERR_API_UNAUTHORIZED');
    }
  });

  test('a wrong token, a prefix of it, or another scheme → 401', async (t) => {
    const { port } = await startApi(t, { token: TOKEN });
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, 10)}`, `Basic ${TOKEN}`, 'Bearer', 'Bearer  ']) {
      const res = await call(port, 'GET', '/api/status', { Authorization: authorization });
      assert.equal(res.status, 401, authorization);
      assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
    }
  });

  test('the right token opens every route (scheme name case-insensitive)', async (t) => {
    const { port } = await startApi(t, { token: TOKEN });
    assert.equal((await call(port, 'GET', '/api/status', { Authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await call(port, 'GET', '/metrics', { Authorization: `bearer ${TOKEN}` })).status, 200);
    assert.equal((await call(port, 'GET', '/api/records', { Authorization: `BEARER ${TOKEN}` })).status, 200);
  });

  test('/healthz and /readyz answer without a token', async (t) => {
    const { port } = await startApi(t, { token: TOKEN });
    assert.equal((await call(port, 'GET', '/healthz')).status, 200);
    assert.equal((await call(port, 'GET', '/readyz')).status, 200);
  });

  test('refusals are logged without the header value', async (t) => {
    const log = memoryLogger();
    const { port } = await startApi(t, { token: TOKEN, logger: log.logger });
    await call(port, 'GET', '/api/status', { Authorization: 'Bearer wrong-but-real-secret' });
    const lines = log.lines();
    assert.ok(lines.some((l) => l.code === 'QP_ERR_API_UNAUTHORIZED'), 'the refusal is logged');
    assert.doesNotMatch(JSON.stringify(lines), /wrong-but-real-secret/);
  });
});

describe('Host header (DNS rebinding)', () => {
  test('a foreign name → 421 JSON, even with the right token', async (t) => {
    const { port } = await startApi(t, { token: TOKEN });
    const res = await call(port, 'GET', '/api/records', { Host: `evil.example:${port}`, Authorization: `Bearer ${TOKEN}` });
    assert.equal(res.status, 421);
    assert.equal(res.json().code, 'QP_ERR_API_HOST_NOT_ALLOWED');
  });

  test('without a token, a foreign name is refused too', async (t) => {
    const { port } = await startApi(t);
    for (const host of ['evil.example', 'localhost.evil.example', '127.0.0.1.nip.io', '10.1.2.3']) {
      assert.equal((await call(port, 'GET', '/api/status', { Host: host })).status, 421, host);
    }
  });

  test('loopback names and addresses are accepted', async (t) => {
    const { port } = await startApi(t);
    for (const host of ['localhost', `localhost:${port}`, 'LOCALHOST.', '127.0.0.1', `127.8.9.10:${port}`, '[::1]', `[::1]:${port}`]) {
      assert.equal((await call(port, 'GET', '/api/status', { Host: host })).status, 200, host);
    }
  });

  test('allowedHosts entries are accepted, with or without a port', async (t) => {
    const { port } = await startApi(t, { allowedHosts: ['qproxy-a.internal', 'Admin.Example:8085'] });
    assert.equal((await call(port, 'GET', '/api/status', { Host: `qproxy-a.internal:${port}` })).status, 200);
    assert.equal((await call(port, 'GET', '/api/status', { Host: 'admin.example' })).status, 200);
    assert.equal((await call(port, 'GET', '/api/status', { Host: 'qproxy-b.internal' })).status, 421);
  });

  test('malformed Host headers are refused', async (t) => {
    const { port } = await startApi(t);
    for (const host of ['localhost:80:80', '[::1', 'localhost:port', '[evil]:80']) {
      assert.equal((await call(port, 'GET', '/api/status', { Host: host })).status, 421, host);
    }
  });

  test('probes answer whatever the Host (orchestrators call them by pod IP)', async (t) => {
    const { port } = await startApi(t);
    assert.equal((await call(port, 'GET', '/healthz', { Host: 'evil.example' })).status, 200);
  });
});

describe('listen', () => {
  test('refuses a non-loopback address without a token (QP_ERR_API_UNSAFE_BIND, a ConfigError)', async (t) => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      const server = new ApiServer(options({ host }));
      t.after(() => server.close());
      await assert.rejects(server.listen(), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${host}: a ConfigError`);
        assert.equal(err.code, 'QP_ERR_API_UNSAFE_BIND');
        assert.match(err.message, /token/);
        return true;
      });
    }
  });

  test('an empty token counts as no token', async (t) => {
    const server = new ApiServer(options({ host: '0.0.0.0', token: '' }));
    t.after(() => server.close());
    await assert.rejects(server.listen(), { code: 'QP_ERR_API_UNSAFE_BIND' });
  });

  test('loopback without a token is fine, by address or by name', async (t) => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const server = new ApiServer(options({ host }));
      t.after(() => server.close());
      const address = await server.listen();
      assert.ok(address.port > 0);
      assert.ok(['127.0.0.1', '::1'].includes(address.address), address.address);
      assert.equal((await call(address.port, 'GET', '/api/status', {}, address.address)).status, 200);
    }
  });

  test('a port in use → ListenError naming the address', async (t) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => blocker.close());
    const port = (blocker.address() as AddressInfo).port;
    const server = new ApiServer(options({ port }));
    t.after(() => server.close());
    await assert.rejects(server.listen(), (err: unknown) => {
      assert.ok(err instanceof ListenError);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
      return true;
    });
  });

  test('close() during listen() leaves nothing listening', async (t) => {
    const server = new ApiServer(options({}));
    t.after(() => server.close());
    const listening = server.listen();
    await server.close();
    const address = await listening;
    await assert.rejects(call(address.port, 'GET', '/healthz'), { code: 'ECONNREFUSED' });
  });

  test('close() is idempotent and the port is free afterwards', async (t) => {
    const { server, port } = await startApi(t);
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await assert.rejects(call(port, 'GET', '/healthz'), { code: 'ECONNREFUSED' });
    await assert.rejects(server.listen(), ListenError);
  });
});
