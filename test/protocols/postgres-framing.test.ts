/**
 * A postgres listener facing bad input: garbage instead of PostgreSQL, a client that closes
 * inside a message, a server that drops mid-message. Each is recorded as it happened — the
 * messages before the break read as messages, the bytes from it kept raw — and the proxy goes on
 * serving real clients. The API shows each record as a conversation.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { JsonConversation } from '../../src/api/conversation-json.js';
import type { TcpRecord } from '../../src/recording/model.js';
import type { Store } from '../../src/store/index.js';
import { call, startApi } from '../api/api-helpers.js';
import type { ReplayResult } from '../../src/playback/results/result.js';
import { psql, startPostgres, type Postgres } from '../helpers/database-servers.js';
import { finished, openEngine, openStore, params, waitFor, type Doc } from '../playback/helpers.js';
import { startTcpProxy } from '../playback/tcp-helpers.js';

const run = promisify(execFile);
let pg: Postgres;

before(async () => {
  pg = await startPostgres({ user: 'app', password: 'secret' });
});
after(() => pg.stop());

async function recordedSessions(store: Store, n: number): Promise<TcpRecord[]> {
  await waitFor(() => store.list({ limit: 100, protocol: 'tcp' }).records.filter((r) => r.state === 'closed').length === n, `${n} closed sessions`);
  return store
    .list({ limit: 100, protocol: 'tcp' })
    .records.reverse()
    .map((r) => store.get(r.id) as TcpRecord);
}

function bytesOf(r: TcpRecord, dir: 'c2s' | 's2c'): Buffer {
  return Buffer.concat(r.chunks.filter((c) => c.dir === dir).map((c) => c.data));
}

async function conversationOf(t: TestContext, store: Store, id: string): Promise<JsonConversation> {
  const api = await startApi(t, { records: store });
  const res = await call(api.port, 'GET', `/api/records/${id}`);
  assert.equal(res.status, 200);
  return res.json().conversation as JsonConversation;
}

async function talk(port: number, data: Buffer): Promise<Buffer> {
  const s = connect({ host: '127.0.0.1', port });
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => undefined);
  await once(s, 'connect');
  s.end(data);
  await once(s, 'close');
  return Buffer.concat(got);
}

/** A StartupMessage for user app, database postgres (protocol 3.0). */
function startupMessage(): Buffer {
  const body = Buffer.from('user\0app\0database\0postgres\0\0');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

async function psqlSelect(port: number): Promise<string> {
  const { stdout } = await run('psql', ['-X', '-A', '-t', '-d', 'postgres', '-c', 'SELECT 40 + 2'], { env: pg.env(port) });
  return stdout.trim();
}

test('garbage on a postgres listener is kept as raw bytes from its first byte, and psql through the same proxy still works', async (t) => {
  const { store } = await openStore(t);
  const proxy = await startTcpProxy(t, `127.0.0.1:${pg.port}`, store, { appProtocol: 'postgres' });
  const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: db\r\n\r\n');
  await talk(proxy.port, garbage);
  assert.equal(await psqlSelect(proxy.port), '42');
  const [bad, good] = await recordedSessions(store, 2);
  assert.deepEqual(bytesOf(bad!, 'c2s'), garbage, 'every byte the client sent is in the record');
  const conv = await conversationOf(t, store, bad!.id);
  assert.deepEqual(conv.breaks, [{ dir: 'c2s', offset: 0, t_us: conv.breaks[0]!.t_us, kind: 'broken', reason: 'not a PostgreSQL start-up packet (length 1195725856)' }]);
  assert.equal(conv.raw_bytes.c2s, garbage.length);
  assert.deepEqual(conv.exchanges, []);

  const ok = await conversationOf(t, store, good!.id);
  assert.deepEqual(ok.breaks, []);
  assert.deepEqual(ok.opening.slice(0, 3).map((m) => 'summary' in m && m.summary), ['StartupMessage user=app database=postgres application_name=psql', 'AuthenticationSASL', 'PasswordMessage (authentication data)']);
  const [select] = ok.exchanges;
  assert.deepEqual(select!.request.map((m) => 'summary' in m && m.summary), ['Query "SELECT 40 + 2"']);
  assert.deepEqual(select!.answer.map((m) => 'summary' in m && m.summary), ['RowDescription [?column?]', 'DataRow [42]', 'CommandComplete SELECT 1', 'ReadyForQuery I']);
});

test('a client that closes inside a message: what came before is read as messages, the cut message is kept raw', async (t) => {
  const { store } = await openStore(t);
  const proxy = await startTcpProxy(t, `127.0.0.1:${pg.port}`, store, { appProtocol: 'postgres' });
  const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  const startup = startupMessage();
  const s = connect({ host: '127.0.0.1', port: proxy.port });
  await once(s, 'connect');
  s.write(ssl);
  const [answer] = (await once(s, 'data')) as [Buffer];
  assert.equal(answer.toString(), 'N');
  s.end(startup.subarray(0, 20));
  await once(s, 'close');
  assert.equal(await psqlSelect(proxy.port), '42');
  const [cut] = await recordedSessions(store, 2);
  const conv = await conversationOf(t, store, cut!.id);
  assert.deepEqual(conv.opening.map((m) => 'summary' in m && m.summary), ['SSLRequest', "SSLResponse 'N'"]);
  assert.deepEqual(conv.breaks.map((b) => [b.dir, b.offset, b.kind]), [['c2s', 8, 'incomplete']]);
  assert.equal(conv.raw_bytes.c2s, 20);
  assert.deepEqual(bytesOf(cut!, 'c2s'), Buffer.concat([ssl, startup.subarray(0, 20)]));
});

test('a server that drops mid-message: the cut message is kept raw, and the proxy serves the next client', async (t) => {
  const { store } = await openStore(t);
  // A downstream that answers the start-up with half an AuthenticationOk and hangs up.
  const half = Buffer.from([0x52, 0, 0, 0, 8]);
  const dropper = createServer((c: Socket) => {
    c.on('error', () => undefined);
    c.once('data', () => c.end(half));
  });
  dropper.listen(0, '127.0.0.1');
  await once(dropper, 'listening');
  t.after(() => new Promise((r) => dropper.close(r)));
  const proxy = await startTcpProxy(t, `127.0.0.1:${(dropper.address() as AddressInfo).port}`, store, { appProtocol: 'postgres' });
  const startup = startupMessage();
  assert.deepEqual(await talk(proxy.port, startup), half, 'the client got the bytes the server sent');
  assert.deepEqual(await talk(proxy.port, startup), half, 'and so did the next client');
  const [first] = await recordedSessions(store, 2);
  const conv = await conversationOf(t, store, first!.id);
  assert.deepEqual(conv.opening.map((m) => 'summary' in m && m.summary), ['StartupMessage user=app database=postgres']);
  assert.deepEqual(conv.breaks.map((b) => [b.dir, b.offset, b.kind]), [['s2c', 0, 'incomplete']]);
  assert.equal(conv.raw_bytes.s2c, half.length);
  assert.deepEqual(bytesOf(first!, 's2c'), half);
});

test('GET /api/records/{id}/conversation pages through the exchanges; raw sessions and bad parameters are refused', async (t) => {
  const { store } = await openStore(t);
  const proxy = await startTcpProxy(t, `127.0.0.1:${pg.port}`, store, { appProtocol: 'postgres' });
  const raw = await startTcpProxy(t, `127.0.0.1:${pg.port}`, store);
  await run('psql', ['-X', '-q', '-d', 'postgres', '-c', 'SELECT 1', '-c', 'SELECT 2', '-c', 'SELECT generate_series(1, 10)'], { env: pg.env(proxy.port) });
  assert.equal(await psqlSelect(raw.port), '42');
  const [session, rawSession] = await recordedSessions(store, 2);
  const api = await startApi(t, { records: store });
  const page = (await call(api.port, 'GET', `/api/records/${session!.id}/conversation?offset=1&limit=2`)).json() as unknown as JsonConversation;
  assert.equal(page.exchanges_total, 4, 'three queries and the Terminate');
  assert.deepEqual(page.exchanges.map((e) => e.n), [2, 3]);
  assert.equal(page.next, 3);
  // Ten DataRows: three shown, the other seven folded.
  assert.deepEqual(page.exchanges[1]!.answer.slice(1, 5), [
    { dir: 's2c', t_us: (page.exchanges[1]!.answer[1] as { t_us: number }).t_us, type: 'DataRow', summary: 'DataRow [1]', size: 12 },
    { dir: 's2c', t_us: (page.exchanges[1]!.answer[2] as { t_us: number }).t_us, type: 'DataRow', summary: 'DataRow [2]', size: 12 },
    { dir: 's2c', t_us: (page.exchanges[1]!.answer[3] as { t_us: number }).t_us, type: 'DataRow', summary: 'DataRow [3]', size: 12 },
    { type: 'DataRow', folded: 7, size: 85 },
  ]);
  const plain = await call(api.port, 'GET', `/api/records/${rawSession!.id}`);
  assert.equal(plain.json().conversation, undefined, 'a raw session has no conversation');
  assert.equal((await call(api.port, 'GET', `/api/records/${rawSession!.id}/conversation`)).status, 409);
  const bad = await call(api.port, 'GET', `/api/records/${session!.id}/conversation?limit=0`);
  assert.equal(bad.status, 400);
  assert.match(bad.json().error as string, /limit must be an integer from 1 to 1000/);
});

test('replay logs in the way zone B asks: md5, cleartext, SCRAM; a wrong password fails the session with QP_ERR_REPLAY_AUTH', async (t) => {
  const { store, path } = await openStore(t);
  const proxy = await startTcpProxy(t, `127.0.0.1:${pg.port}`, store, { appProtocol: 'postgres' });
  assert.equal(await psqlSelect(proxy.port), '42');
  await recordedSessions(store, 1);
  await psql(pg.env(), 'postgres', "SET password_encryption = 'md5'; CREATE USER md5user PASSWORD 'md5-pw' SUPERUSER");
  await psql(pg.env(), 'postgres', "CREATE USER clearuser PASSWORD 'clear-pw' SUPERUSER");
  const hba = join(pg.dir, 'data', 'pg_hba.conf');
  await writeFile(hba, `host all md5user 127.0.0.1/32 md5\nhost all clearuser 127.0.0.1/32 password\n${await readFile(hba, 'utf8')}`);
  await psql(pg.env(), 'postgres', 'SELECT pg_reload_conf()');

  const replay = async (user: string, password: string): Promise<ReplayResult> => {
    const engine = await openEngine(t, store, `${path}-${user}-${password}`, [], {
      http: null,
      tcp: { targets: [{ host: '127.0.0.1', port: pg.port }], replyTimeoutMs: 5_000, compare: 'exact', creds: { user, password } },
    });
    const doc = await finished(engine, (engine.manager.createResolved(params({ filter: { protocol: 'tcp' } })) as Doc).id);
    return (engine.manager.results(doc.id, { limit: 1 })!.results)[0]!;
  };
  for (const [user, password] of [['md5user', 'md5-pw'], ['clearuser', 'clear-pw'], ['app', 'secret']] as const) {
    const r = await replay(user, password);
    assert.equal(r.status, 'match', `${user}: ${r.error ?? r.diff ?? ''}`);
  }
  const wrong = await replay('md5user', 'not-it');
  assert.equal(wrong.status, 'failed');
  assert.match(wrong.error!, /^QP_ERR_REPLAY_AUTH: zone B refused the PostgreSQL session: 28P01 password authentication failed for user "md5user"/);
});
