/**
 * PostgreSQL end to end across two zones: pgbench recorded through zone A's proxy (tcp.protocol
 * "postgres"), synced, replayed live into zone B's own cluster with zone B's SCRAM credentials,
 * compared message by message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { psql, startAll, startPostgres, type Postgres } from '../helpers/database-servers.js';
import { startZones } from './zones.js';

const run = promisify(execFile);

async function cluster(password: string): Promise<Postgres> {
  const pg = await startPostgres({ user: 'bench', password });
  try {
    await psql(pg.env(), 'postgres', 'CREATE DATABASE bench');
  } catch (err) {
    await pg.stop();
    throw err;
  }
  return pg;
}

test('pgbench -i and an unthrottled pgbench -c 2 replayed into zone B: the same data, every session matched, a changed row named', async (t) => {
  // Identically initialised clusters, each with its own password: replay must log in with zone B's.
  const [a, b] = (await startAll(t, [() => cluster('zone-a-secret'), () => cluster('zone-b-secret')])) as [Postgres, Postgres];
  const zones = await startZones(t, {
    protocol: 'postgres',
    source: `127.0.0.1:${a.port}`,
    target: `127.0.0.1:${b.port}`,
    playbackTcp: { auth: { user: 'bench', password: 'zone-b-secret', database: 'bench' } },
  });
  const viaProxy = a.env(zones.proxyPort);

  await run('pgbench', ['-i', '-s', '1', '-q', 'bench'], { env: viaProxy, timeout: 120_000 });
  await zones.settled('pgbench -i', 1);
  // Unthrottled: the two clients queue on the one branch row and read accounts the other one
  // updated, so their sessions match only when the replay keeps their requests in the recorded order.
  // -M prepared: the extended query protocol (Parse once, then Bind/Execute/Sync).
  await run('pgbench', ['-c', '2', '-T', '5', '-M', 'prepared', 'bench'], { env: viaProxy, timeout: 120_000 });
  // pgbench's set-up connection (vacuum, truncate) and its two clients.
  await zones.settled('pgbench -T 5', 4);

  const history = 'SELECT count(*) FROM pgbench_history';
  const rows = await psql(a.env(), 'bench', history);
  assert.ok(Number(rows) > 0, 'pgbench wrote history rows');
  assert.equal(await psql(b.env(), 'bench', history), rows, 'pgbench_history has as many rows in zone B');
  const balances = 'SELECT sum(abalance) FROM pgbench_accounts';
  assert.equal(await psql(b.env(), 'bench', balances), await psql(a.env(), 'bench', balances));
  const status = zones.playback.status();
  const sessions = zones.recorded();
  const mismatches = zones.results('mismatch').map((r) => r.diff);
  assert.equal(status.failed, 0, JSON.stringify(zones.results('failed').map((r) => r.error)));
  assert.ok((status.matched) / sessions >= 0.99, `≥ 99 % of ${sessions} sessions matched: ${mismatches.join('\n')}`);

  // One row of pgbench_branches changed in zone B: the replayed SELECT names the message and value.
  const before = Number(await psql(b.env(), 'bench', 'SELECT bbalance FROM pgbench_branches WHERE bid = 1'));
  await psql(b.env(), 'bench', 'UPDATE pgbench_branches SET bbalance = bbalance + 7 WHERE bid = 1');
  await run('psql', ['-X', '-q', '-d', 'bench', '-c', 'SELECT bid, bbalance FROM pgbench_branches ORDER BY bid'], { env: viaProxy });
  await zones.settled('the SELECT', 5);
  const [diff] = zones.results('mismatch');
  assert.ok(diff !== undefined, 'the SELECT is a mismatch');
  assert.match(diff.diff!, new RegExp(`^#1 Query "SELECT bid, bbalance FROM pgbench_branches ORDER BY bid" → DataRow 1 col 1: ${before} → ${before + 7}$`, 'm'));
  assert.deepEqual(diff.kinds, ['DataRow']);
});
