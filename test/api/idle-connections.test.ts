import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slowClientsAnswered } from '../helpers/idle-clients.js';
import { call, startApi } from './api-helpers.js';

/**
 * Issue 18: connections to the API port that send nothing outlived its header timeout (Node
 * sweeps for expired heads only every 30 s by default). With a short head deadline configured,
 * silent and half-sent connections must be closed by the server (bounded wait, no clock), and
 * the API keep answering.
 */

test('the API closes silent connections and half-sent heads at its head deadline, and keeps answering', async (t) => {
  const { port } = await startApi(t, { timeouts: { headerReadMs: 300, requestMs: 120_000 } });
  const answers = await slowClientsAnswered(port);
  assert.match(answers.silent, /^HTTP\/1\.1 408 /);
  assert.match(answers.half, /^HTTP\/1\.1 408 /);
  assert.equal((await call(port, 'GET', '/healthz')).status, 200);
});
