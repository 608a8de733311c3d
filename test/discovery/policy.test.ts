/** Selection policies are pure functions: tested on plain endpoint objects, no sockets needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leastConnections, policies, roundRobin, type Endpoint } from '../../src/discovery/index.js';

function ep(key: string, active = 0): Endpoint {
  const [address = '', port = '0'] = key.split(':');
  return { key, address, port: Number(port), active, target: { host: address, port: Number(port), tls: false, label: key } };
}

const a = ep('10.0.0.1:80');
const b = ep('10.0.0.2:80');
const c = ep('10.0.0.3:80');

test('round-robin visits each candidate in turn and spreads evenly', () => {
  const picks = Array.from({ length: 9 }, (_, turn) => roundRobin([a, b, c], turn).key);
  assert.deepEqual(picks, [a, b, c, a, b, c, a, b, c].map((e) => e.key));
  assert.equal(roundRobin([b], 41), b);
});

test('least-connections takes the endpoint with the fewest in flight', () => {
  const busyA = ep('10.0.0.1:80', 3);
  const busyB = ep('10.0.0.2:80', 1);
  const idleC = ep('10.0.0.3:80', 0);
  for (let turn = 0; turn < 5; turn++) assert.equal(leastConnections([busyA, busyB, idleC], turn), idleC);
  assert.equal(leastConnections([busyA, busyB], 0), busyB);
});

test('least-connections rotates among ties instead of always taking the first', () => {
  const x = ep('10.0.0.1:80', 2);
  const y = ep('10.0.0.2:80', 1);
  const z = ep('10.0.0.3:80', 1);
  const picks = new Set(Array.from({ length: 4 }, (_, turn) => leastConnections([x, y, z], turn).key));
  assert.deepEqual([...picks].sort(), [y.key, z.key]);
  const idle = Array.from({ length: 3 }, (_, turn) => leastConnections([a, b, c], turn).key);
  assert.deepEqual(idle, [a.key, b.key, c.key]);
});

test('policies do not mutate their candidates', () => {
  const list = [a, b, c] as const;
  const before = JSON.stringify(list);
  roundRobin(list, 7);
  leastConnections(list, 7);
  assert.equal(JSON.stringify(list), before);
});

test('the registry maps config names to policies', () => {
  assert.equal(policies.round_robin, roundRobin);
  assert.equal(policies.least_connections, leastConnections);
});
