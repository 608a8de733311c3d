/**
 * Issue 17, defect 1: secrets sent in the request target and in headers, over HTTP/1.1, HTTP/2
 * (node:http2 and curl --http2) and a WebSocket upgrade through a TLS listener, must not reach any
 * byte of the store's folder, the API's answers or the HAR export. A canary value sent next to
 * the secrets (not redactable) proves that the byte search does see what is stored.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { makeTestPki } from '../helpers/tls.js';
import { httpRequest, poll, startCli, tempDir } from './helpers.js';

const run = promisify(execFile);

/** A value that cannot occur by chance, so finding it anywhere means it leaked. */
function secret(label: string): string {
  return `${label}${randomBytes(12).toString('hex')}`;
}

/** Every file under `dir` (the store's folder), concatenated, with the names read. */
async function folderBytes(dir: string): Promise<{ names: string[]; bytes: Buffer }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return { names: files, bytes: Buffer.concat(await Promise.all(files.map((f) => readFile(f)))) };
}

function assertNone(haystack: Buffer | string, secrets: readonly string[], where: string): void {
  const buf = typeof haystack === 'string' ? Buffer.from(haystack) : haystack;
  for (const s of secrets) assert.equal(buf.indexOf(s), -1, `${s} leaked into ${where}`);
}

test('secrets in the target and headers over h1, h2 and a WebSocket upgrade reach no stored byte, API answer or HAR', async () => {
  const dir = await tempDir();
  const pki = await makeTestPki();
  after(() => pki.cleanup());

  const canary = secret('canary');
  const s = {
    token: secret('tok'),
    password: secret('pw'),
    bearer: secret('bearer'),
    cookie: secret('cookie'),
    h2token: secret('h2tok'),
    h2password: secret('h2pw'),
    curlToken: secret('curltok'),
    curlPassword: secret('curlpw'),
    wsToken: secret('wstok'),
    wsBearer: secret('wsbearer'),
    userinfo: secret('userinfo'),
    setCookie: secret('setcookie'),
    location: secret('location'),
  };
  const secrets = Object.values(s);

  // Zone A's service: answers plainly (never echoing the request) with secrets of its own.
  const backend = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('set-cookie', `sid=${s.setCookie}; Path=/; HttpOnly`);
      res.setHeader('location', `/next?token=${s.location}&x=1`);
      res.end('ok');
    });
  });
  const wss = new WebSocketServer({ server: backend });
  wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  after(() => {
    wss.close();
    backend.closeAllConnections();
    backend.close();
  });
  const downstream = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;

  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      mode: 'Record',
      node_id: 'leak-test',
      http: {
        host: '127.0.0.1',
        port: 0,
        downstream,
        tls: { tls_cert: join(pki.dir, 'server.pem'), tls_key: join(pki.dir, 'server.key') },
      },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: 'store/q.db' },
    }),
  );
  const node = await startCli(configPath);
  const port = Number(new URL(node.http).port);
  const origin = `https://127.0.0.1:${port}`;

  // HTTP/1.1 over TLS (no ALPN offered: the listener speaks HTTP/1.1).
  const h1 = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      `${origin}/h1?token=${s.token}&password=${s.password}&q=${canary}`,
      { ca: pki.ca, agent: false, headers: { authorization: `Bearer ${s.bearer}`, cookie: `sid=${s.cookie}; lang=en`, 'x-canary': canary } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(h1, 200);

  // HTTP/2 with node's client: the target travels as :path.
  const session = h2connect(origin, { ca: pki.ca });
  const h2 = await new Promise<{ status: number; alpn: string | false | undefined }>((resolve, reject) => {
    const stream = session.request({
      ':path': `/h2?token=${s.h2token}&password=${s.h2password}`,
      authorization: `Bearer ${s.bearer}`,
      cookie: `sid=${s.cookie}`,
    });
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.resume();
    stream.on('end', () => resolve({ status, alpn: session.alpnProtocol }));
    stream.on('error', reject);
    stream.end();
  });
  session.close();
  assert.deepEqual(h2, { status: 200, alpn: 'h2' });

  // HTTP/2 with curl, as the issue was found.
  const curl = await run('curl', [
    '--http2', '-sS', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--cacert', join(pki.dir, 'ca.pem'),
    '-H', `Authorization: Bearer ${s.bearer}`,
    `${origin}/curl?token=${s.curlToken}&password=${s.curlPassword}`,
  ]);
  assert.equal(curl.stdout, '2 200');

  // A WebSocket upgrade with the secret in its target and headers; one echo, then a clean close.
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws?token=${s.wsToken}`, {
    ca: pki.ca,
    headers: { authorization: `Bearer ${s.wsBearer}`, cookie: `sid=${s.cookie}` },
  });
  await once(ws, 'open');
  ws.send('ping');
  const [echo] = (await once(ws, 'message')) as [Buffer];
  assert.equal(echo.toString(), 'ping');
  ws.close();
  await once(ws, 'close');

  // An absolute-form target with userinfo (refused with 400, and recorded as refused).
  const raw = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  await once(raw, 'secureConnect');
  raw.end(`GET http://ann:${s.userinfo}@127.0.0.1/abs?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  raw.on('data', (c: Buffer) => chunks.push(c));
  await once(raw, 'end');
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 400 /);

  // All five exchanges stored (the upgrade records when its tunnel closes).
  type Page = { records: Array<{ id: string; url: string }> };
  const list = await poll(
    async () => JSON.parse((await httpRequest(`${node.api}/api/records?limit=50`)).body) as Page,
    (p) => p.records.length === 5,
  );
  assert.equal(list.records.length, 5);
  // A refused target is recorded as the client sent it (absolute-form), redacted.
  assert.deepEqual(list.records.map((r) => r.url.replace(/^http:\/\/[^/]*/, '').split('?')[0]).sort(), ['/abs', '/curl', '/h1', '/h2', '/ws']);

  const storeDir = join(dir, 'store');
  const live = await folderBytes(storeDir);
  assert.ok(live.bytes.includes(canary), `the canary is found in the store's files (${live.names.join(', ')}), so the search works`);
  assertNone(live.bytes, secrets, `the store's files while running (${live.names.join(', ')})`);

  const answers = [(await httpRequest(`${node.api}/api/records?limit=50`)).body];
  for (const r of list.records) answers.push((await httpRequest(`${node.api}/api/records/${r.id}`)).body);
  const joined = answers.join('\n');
  assert.ok(joined.includes(canary), 'the canary is in the API answers');
  assertNone(joined, secrets, 'the API answers');
  const h2Record = JSON.parse(answers[1 + list.records.findIndex((r) => r.url.startsWith('/h2'))]!) as { request: { headers: [string, string][] }; redacted: string[] };
  const path = h2Record.request.headers.find(([n]) => n === ':path')?.[1];
  assert.match(path ?? '', /^\/h2\?token=REDACTED:hmac-sha256:[0-9a-f]{16}&password=REDACTED:hmac-sha256:[0-9a-f]{16}$/);
  assert.deepEqual(h2Record.redacted.filter((p) => p.startsWith('request.query.')), ['request.query.token', 'request.query.password']);

  const har = (await httpRequest(`${node.api}/api/records?format=har&limit=50`)).body;
  assert.equal((JSON.parse(har) as { log: { entries: unknown[] } }).log.entries.length, 5);
  assert.ok(har.includes(canary), 'the canary is in the HAR export');
  assertNone(har, secrets, 'the HAR export');

  // After a clean stop (WAL checkpointed), again every file in the folder.
  node.child.kill('SIGTERM');
  const [code] = (await once(node.child, 'exit')) as [number | null];
  assert.equal(code, 0, node.stderr.join(''));
  const stopped = await folderBytes(storeDir);
  assert.ok(stopped.bytes.includes(canary));
  assertNone(stopped.bytes, secrets, `the store's files after stopping (${stopped.names.join(', ')})`);
});
