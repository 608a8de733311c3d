/**
 * Plain HTTP inside an intercepted CONNECT (curl --proxytunnel to an http URL): the client's first
 * bytes are an HTTP/1.x request line, so the connection is served as HTTP exchanges to
 * `http://host:port`, recorded like the intercepted HTTPS ones. What is neither TLS nor HTTP keeps
 * the byte tunnel, recorded as TCP: a server-speaks-first protocol (the client sends nothing until
 * the greeting) and binary garbage. A Playback node serves the plain request from its recording.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { startWsEchoBackend } from '../helpers/backend.js';
import { classifyFirstBytes } from '../../src/proxy/forward/first-bytes.js';
import { bodyText, defer, forwardPki, getRecord, parseJson, recordsMatching, run, startNode, waitMetric } from './helpers.js';

/** A TCP server that greets first (as SMTP does), then echoes every line upper-cased. */
async function greetingServer(t: Parameters<typeof defer>[0]): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('220 hello\r\n');
    socket.on('data', (c: Buffer) => socket.write(c.toString('latin1').toUpperCase()));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** CONNECTs through the proxy; resolves once the 200 head has been read (nothing after it is consumed). */
function connectThrough(proxyPort: number, target: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    let head = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      socket.pause();
      if (!/^HTTP\/1\.1 200 /.test(head.toString('latin1'))) return reject(new Error(`CONNECT refused: ${head.toString('latin1')}`));
      if (end + 4 < head.length) socket.unshift(head.subarray(end + 4));
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Reads from a socket until `expected` has arrived (the test's own timeout bounds it). */
function readUntil(socket: Socket, expected: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += c.toString('latin1');
      if (!got.includes(expected)) return;
      socket.removeListener('data', onData);
      resolve(got);
    };
    socket.on('data', onData);
    socket.resume();
  });
}

test('first bytes: TLS, an HTTP/1.x request line, or something else; partial input waits', () => {
  const c = (s: string | number[]): ReturnType<typeof classifyFirstBytes> => classifyFirstBytes(Buffer.from(s as string));
  assert.equal(c([0x16, 0x03, 0x01]), 'tls');
  assert.equal(c('GET /x HTTP/1.1\r\n'), 'http');
  assert.equal(c('OPTIONS * HTTP/1.0\n'), 'http');
  assert.equal(c('GET'), null);
  assert.equal(c('GET /x HTTP/1'), null);
  assert.equal(c('SET a b\r\n'), 'other', 'a Redis inline command is not HTTP');
  assert.equal(c('PRI * HTTP/2.0\r\n'), 'other', 'HTTP/2 prior knowledge is not HTTP/1.x');
  assert.equal(c([0x00, 0x01, 0x02]), 'other');
  assert.equal(c('*1\r\n$4\r\nPING\r\n'), 'other');
  assert.equal(c(''), null);
});

test('plain HTTP inside CONNECT is recorded as http://host:port and answered; server-speaks-first and garbage stay byte tunnels', async (t) => {
  const pki = await forwardPki(t);
  const seen: { url: string; auth: string | undefined; body: string }[] = [];
  const web = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => {
    web.closeAllConnections();
    web.close(() => resolve());
  }));
  const webPort = (web.address() as AddressInfo).port;
  const greetPort = await greetingServer(t);
  const qp = await startNode(t, pki.dir, {
    mode: 'Record',
    forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, allow_ports: [webPort, greetPort] },
  });
  const proxyPort = Number(new URL(qp.proxy).port);

  // curl --proxytunnel to an http URL: CONNECT, then a plain POST inside it.
  const origin = `http://127.0.0.1:${webPort}`;
  const out = await run('curl', ['-sS', '-p', '-x', qp.proxy, '-H', 'Authorization: Bearer s3cret', '--data-binary', 'plain-body', `${origin}/inside?token=abc`]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(parseJson(out.stdout), { method: 'POST', url: '/inside?token=abc', body: 'plain-body' });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.auth, 'Bearer s3cret', 'the origin got the request as sent');

  const [rec] = await recordsMatching(qp.api, (r) => r.protocol === 'http', 1);
  assert.equal(rec!.status, 200);
  assert.equal(rec!.downstream, origin);
  const full = await getRecord(qp.api, rec!.id);
  const req = full.request as { url: string; headers: [string, string][]; body: unknown };
  assert.match(req.url, new RegExp(`^http://127\\.0\\.0\\.1:${webPort}/inside\\?token=REDACTED`), 'recorded with the http origin, redacted');
  assert.match(req.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1] ?? '', /^Bearer REDACTED/);
  assert.equal(bodyText(req.body), 'plain-body');
  assert.equal(parseJson(bodyText((full.response as { body: unknown }).body)).body, 'plain-body');
  assert.equal(full.tls, null, 'no TLS on this connection');
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_connects_total{mode="intercept"}', 1), 1);

  // A server-speaks-first protocol: the client waits for the greeting, so the proxy hears nothing
  // and tunnels after its wait; the greeting then arrives and the conversation goes on.
  const quiet = await connectThrough(proxyPort, `127.0.0.1:${greetPort}`);
  quiet.on('error', () => undefined);
  assert.match(await readUntil(quiet, '220 hello\r\n'), /^220 hello\r\n/);
  const echoed = readUntil(quiet, 'QUIT\r\n');
  quiet.write('quit\r\n');
  assert.equal(await echoed, 'QUIT\r\n');
  quiet.end();

  // Binary garbage right after the 200: neither TLS nor HTTP, relayed as bytes.
  const noisy = await connectThrough(proxyPort, `127.0.0.1:${greetPort}`);
  noisy.on('error', () => undefined);
  const noise = Buffer.from([0x00, 0x01, 0x7a, 0x7a, 0x0a]);
  const answer = readUntil(noisy, 'ZZ\n');
  noisy.write(noise);
  assert.match(await answer, /220 hello\r\n/);
  noisy.end();

  const tcp = await recordsMatching(qp.api, (r) => r.protocol === 'tcp' && (r as { state?: string }).state === 'closed', 2);
  for (const r of tcp) {
    assert.equal(r.downstream, `127.0.0.1:${greetPort}`);
    const chunks = (await getRecord(qp.api, r.id)).chunks as { dir: string; data: string }[];
    const c2s = Buffer.concat(chunks.filter((c) => c.dir === 'c2s').map((c) => Buffer.from(c.data, 'base64')));
    assert.ok(c2s.equals(Buffer.from('quit\r\n')) || c2s.equals(noise), `the client's bytes are recorded as sent: ${c2s.toString('hex')}`);
  }
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_connects_total{mode="tunnel"}', 2), 2);
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_tls_handshakes_total{result="failed"}', 0), 0, 'nothing was taken for a TLS handshake');

  // Zone B: a Playback node as the forward proxy answers the same plain request from the recording.
  await qp.node.stop();
  const zoneB = await startNode(t, pki.dir, { mode: 'Playback', forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, allow_ports: [webPort] }, storage: { path: 'data-config.json.db' } }, 'b.json');
  const served = await run('curl', ['-sS', '-p', '-x', zoneB.proxy, '--data-binary', 'plain-body', `${origin}/inside?token=abc`]);
  assert.equal(served.code, 0, served.stderr);
  assert.equal(parseJson(served.stdout).body, 'plain-body');
  assert.equal(seen.length, 1, 'the answer came from the recording, not the origin');
});

test('a WebSocket client that CONNECTs first to a ws:// URL is relayed and recorded with the http origin', async (t) => {
  const pki = await forwardPki(t);
  const backend = await startWsEchoBackend();
  defer(t, () => backend.close());
  const qp = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, allow_ports: [backend.port] } });
  const socket = await connectThrough(Number(new URL(qp.proxy).port), `127.0.0.1:${backend.port}`);
  // connectThrough leaves the socket paused; the client's HTTP parser is attached by then.
  const ws = new WebSocket(`ws://127.0.0.1:${backend.port}/chat`, {
    createConnection: () => {
      setImmediate(() => socket.resume());
      return socket;
    },
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const reply = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
  ws.send('over plain CONNECT');
  assert.equal(await reply, 'over plain CONNECT');
  ws.close();
  const [rec] = await recordsMatching(qp.api, (r) => r.protocol === 'http', 1);
  assert.equal(rec!.url, `http://127.0.0.1:${backend.port}/chat`);
  assert.equal(rec!.status, 101);
});
