import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openIdleClients } from '../helpers/idle-clients.js';
import { call, startApi } from './api-helpers.js';

/**
 * Issue 18: connections to the API port that send nothing outlived its header timeout (Node
 * sweeps for expired heads only every 30 s by default). With a short head deadline configured,
 * silent and half-sent connections must be closed by the server (bounded wait, no clock), and
 * the API keep answering.
 */

test('the API closes silent connections and half-sent heads at its head deadline, and keeps answering', async (t) => {
  const { port } = await startApi(t, { timeouts: { headerReadMs: 300, requestMs: 120_000 } });
  const silent = await openIdleClients(port, 100);
  const half = await openIdleClients(port, 20, { send: 'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n' });
  t.after(() => {
    silent.destroy();
    half.destroy();
  });
  await silent.waitAllClosed(10_000);
  await half.waitAllClosed(10_000);
  assert.match(silent.received(0).toString('latin1'), /^HTTP\/1\.1 408 /);
  assert.match(half.received(0).toString('latin1'), /^HTTP\/1\.1 408 /);
  assert.equal((await call(port, 'GET', '/healthz')).status, 200);
});
