import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { TcpRecord } from '../../src/recording/model.js';
import { joined, openStore, refusedPort, startProxy, waitFor } from './helpers.js';

/** A real protocol end to end: redis-cli → QProxy → redis-server, all on loopback. */

function onPath(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** True once something at `port` answers PING with +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    s.on('error', () => resolve(false));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.startsWith('+PONG'));
      }
    });
    s.on('connect', () => s.write('PING\r\n'));
    s.on('close', () => resolve(false));
  });
}

async function startRedis(t: TestContext): Promise<number> {
  // redis-server cannot take port 0: pick a free port, release it, and hand it over.
  const port = await refusedPort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  t.after(async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  });
  let up = false;
  for (let i = 0; i < 200 && !up && !exited; i++) {
    up = await pong(port);
    if (!up) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(up, `redis-server did not answer on port ${port}`);
  return port;
}

/** Runs redis-cli against `port` with `commands` on stdin (one connection); resolves with its stdout. */
function redisCli(port: number, commands: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli exited ${code}: ${err}`))));
    child.stdin.end(commands);
  });
}

test('redis-cli through the proxy: SET/GET/INCR work and the recording holds the commands and replies in RESP', async (t) => {
  if (!onPath('redis-server') || !onPath('redis-cli')) {
    t.skip('redis-server / redis-cli are not on PATH (apt-get install -y redis-server); the Redis end-to-end test needs them');
    return;
  }
  const redisPort = await startRedis(t);
  const store = await openStore(t);
  const h = await startProxy(t, { targets: [`127.0.0.1:${redisPort}`], sink: store });

  const out = await redisCli(h.port, 'SET greeting hello\nGET greeting\nINCR visits\nINCR visits\n');
  assert.deepEqual(out.trim().split('\n'), ['OK', 'hello', '1', '2']);

  await waitFor(() => h.proxy.inFlight === 0, 'the redis-cli session to end');
  await store.flush();
  const summaries = store.list({ limit: 10, protocol: 'tcp' }).records;
  assert.equal(summaries.length, 1, 'one session');
  const record = store.get(summaries[0]!.id) as TcpRecord;
  assert.equal(record.downstream, `127.0.0.1:${redisPort}`);
  assert.equal(record.close_reason, 'client_close');
  const sent = joined(record, 'c2s').toString();
  const replies = joined(record, 's2c').toString();
  // redis-cli may ask for COMMAND DOCS first; the four commands and their replies come last, in order.
  const commands =
    '*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n' +
    '*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n' +
    '*2\r\n$4\r\nINCR\r\n$6\r\nvisits\r\n'.repeat(2);
  assert.ok(sent.endsWith(commands), `the recording holds the commands in RESP: ${JSON.stringify(sent.slice(-200))}`);
  assert.ok(replies.endsWith('+OK\r\n$5\r\nhello\r\n:1\r\n:2\r\n'), `the recording holds the replies in RESP: ${JSON.stringify(replies.slice(-100))}`);
  assert.equal(record.bytes_in, Buffer.byteLength(sent));
  assert.equal(record.bytes_out, Buffer.byteLength(replies));
});
