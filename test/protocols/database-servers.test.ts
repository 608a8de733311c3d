/**
 * The database-server helper itself: servers started side by side for one test never outlive it,
 * even when one of them fails to start (a leaked server keeps the test file's process, and so the
 * whole suite, running for ever).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAll, type ServerProcess } from '../helpers/database-servers.js';

function fakeServer(port: number, stopped: number[]): ServerProcess {
  return { port, dir: `/nonexistent/${port}`, stop: () => Promise.resolve(void stopped.push(port)) };
}

test('startAll: when one server fails to start, the ones that started are stopped before the error is thrown', async (t) => {
  const stopped: number[] = [];
  const slow = (): Promise<ServerProcess> => new Promise((resolve) => setTimeout(() => resolve(fakeServer(1, stopped)), 50));
  const failing = (): Promise<ServerProcess> => Promise.reject(new Error('install failed'));
  await assert.rejects(startAll(t, [slow, failing]), /install failed/);
  assert.deepEqual(stopped, [1], 'the server that started after its sibling failed is stopped, not left running');
});

test('startAll: servers that all start are returned in order and stopped after the test', async (t) => {
  const stopped: number[] = [];
  await t.test('a test using them', async (sub) => {
    const servers = await startAll(sub, [() => Promise.resolve(fakeServer(1, stopped)), () => Promise.resolve(fakeServer(2, stopped))]);
    assert.deepEqual(servers.map((s) => s.port), [1, 2]);
    assert.deepEqual(stopped, [], 'running during the test');
  });
  assert.deepEqual(stopped.sort(), [1, 2], 'stopped once the test ended');
});
