/**
 * MariaDB end to end across two zones: sysbench (server-side prepared statements, the binary
 * protocol) and the mariadb client recorded through zone A's proxy (tcp.protocol "mysql"),
 * replayed live into zone B's own server with zone B's credentials.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startAll, startMariadb, type Mariadb } from '../helpers/database-servers.js';
import { startZones } from './zones.js';

const run = promisify(execFile);

async function server(password: string): Promise<Mariadb> {
  const db = await startMariadb();
  try {
    await db.sql(`CREATE USER app@'%' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO app@'%'; CREATE DATABASE shop`);
  } catch (err) {
    await db.stop();
    throw err;
  }
  return db;
}

function sysbench(port: number, ...args: string[]): Promise<unknown> {
  const conn = ['--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${port}`, '--mysql-user=app', '--mysql-password=zone-a-secret', '--mysql-db=shop', '--tables=1', '--table-size=200'];
  return run('sysbench', ['oltp_read_write', ...conn, ...args], { timeout: 120_000 });
}

test('sysbench prepared statements and a mariadb client session replayed into zone B: every session matched, a changed row named', async (t) => {
  const [a, b] = (await startAll(t, [() => server('zone-a-secret'), () => server('zone-b-secret')])) as [Mariadb, Mariadb];
  const zones = await startZones(t, {
    protocol: 'mysql',
    source: `127.0.0.1:${a.port}`,
    target: `127.0.0.1:${b.port}`,
    playbackTcp: { auth: { user: 'app', password: 'zone-b-secret' } },
  });

  await sysbench(zones.proxyPort, 'prepare');
  await zones.settled('sysbench prepare', 1);
  // One thread, a fixed number of transactions, prepared statements (COM_STMT_PREPARE/EXECUTE).
  await sysbench(zones.proxyPort, '--threads=1', '--events=40', '--time=0', '--db-ps-mode=auto', 'run');
  await zones.settled('sysbench run', 2);
  const client = ['--no-defaults', '-h', '127.0.0.1', '-P', String(zones.proxyPort), '-uapp', '-pzone-a-secret', 'shop', '-N', '-B', '-e'];
  await run('mariadb', [...client, "PREPARE s FROM 'SELECT k, c FROM sbtest1 WHERE id = ?'; SET @i = 7; EXECUTE s USING @i; DEALLOCATE PREPARE s; SELECT count(*), sum(k) FROM sbtest1"]);
  await zones.settled('the mariadb client', 3);

  const check = 'CHECKSUM TABLE shop.sbtest1';
  assert.equal(await b.sql(check), await a.sql(check), 'sbtest1 is the same in zone B');
  const status = zones.playback.status();
  assert.equal(status.matched, 3, zones.results('mismatch').map((r) => r.diff).join('\n') + zones.results('failed').map((r) => r.error).join('\n'));
  assert.equal(status.success_rate, 1);

  const before = await b.sql('SELECT k FROM shop.sbtest1 WHERE id = 5');
  await b.sql('UPDATE shop.sbtest1 SET k = k + 1 WHERE id = 5');
  await run('mariadb', [...client, 'SELECT k FROM sbtest1 WHERE id = 5']);
  await zones.settled('the changed row', 4);
  const [diff] = zones.results('mismatch');
  assert.ok(diff !== undefined, 'the SELECT is a mismatch');
  assert.match(diff.diff!, new RegExp(`^#\\d+ COM_QUERY "SELECT k FROM sbtest1 WHERE id = 5" → Row 1 col 0: ${before} → ${Number(before) + 1}$`, 'm'));
});
