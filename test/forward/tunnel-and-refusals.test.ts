/**
 * CONNECT that is not intercepted (tunnel hosts, no CA: recorded as TCP sessions), CONNECT that
 * cannot be served (a refused port → 403, a closed port → 502, a loop to the node's own API →
 * 403), clients that are not allowed, and bad input: a garbage ClientHello and a client that does
 * not trust the CA — each ends its own connection and harms nothing else.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { bodyText, forwardPki, getRecord, httpsUpstream, parseJson, recordsMatching, run, startNode, waitMetric } from './helpers.js';

/** Sends raw bytes as a CONNECT client; resolves with the proxy's answer head (first chunk). */
function rawConnect(proxyPort: number, target: string, extraHeaders = ''): Promise<{ socket: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extraHeaders}\r\n`));
    socket.once('data', (chunk: Buffer) => resolve({ socket, head: chunk.toString('latin1') }));
    socket.once('error', reject);
  });
}

/** Writes a raw request and reads the whole answer (the connection closes). */
function rawExchange(proxyPort: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1', () => socket.write(request));
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test('tunnel hosts are relayed as byte tunnels and recorded as TCP sessions; unreachable ones get 502', async (t) => {
  const pki = await forwardPki(t);
  const up = await httpsUpstream(t, pki);
  const dead = await closedPort();
  const qp = await startNode(t, pki.dir, {
    mode: 'Record',
    forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, tunnel_hosts: ['localhost'], allow_ports: [up.port, dead] },
  });
  // curl trusts the upstream's own CA: end-to-end TLS, QProxy only sees bytes.
  const out = await run('curl', ['-sS', '--cacert', join(pki.upstream.dir, 'ca.pem'), '-x', qp.proxy, `https://localhost:${up.port}/tunnelled`]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(parseJson(out.stdout).url, '/tunnelled');

  const [rec] = await recordsMatching(qp.api, (r) => r.protocol === 'tcp' && (r as { state?: string }).state === 'closed', 1);
  assert.equal(rec!.downstream, `localhost:${up.port}`);
  const full = await getRecord(qp.api, rec!.id);
  const chunks = full.chunks as { dir: string; data: unknown }[];
  assert.ok(chunks.some((c) => c.dir === 'c2s') && chunks.some((c) => c.dir === 's2c'), 'both directions recorded');
  assert.equal(Buffer.from(chunks[0]!.data as string, 'base64')[0], 0x16, 'the first client bytes are its TLS ClientHello, not the CONNECT');
  assert.ok((full.bytes_in as number) > 0 && (full.bytes_out as number) > 0);
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_connects_total{mode="tunnel"}', 1), 1);

  const refused = await rawConnect(Number(new URL(qp.proxy).port), `localhost:${dead}`);
  refused.socket.destroy();
  assert.match(refused.head, /^HTTP\/1\.1 502 /);
  assert.match(refused.head, /"code":"QP_ERR_DOWNSTREAM_CONNECT"/);
});

test('without a CA every CONNECT is tunnelled', async (t) => {
  const pki = await forwardPki(t);
  const up = await httpsUpstream(t, pki);
  const qp = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, allow_ports: [up.port] } });
  const out = await run('curl', ['-sS', '--cacert', join(pki.upstream.dir, 'ca.pem'), '-x', qp.proxy, `https://127.0.0.1:${up.port}/no-ca`]);
  assert.equal(out.code, 0, out.stderr);
  await recordsMatching(qp.api, (r) => r.protocol === 'tcp', 1);
});

test('refusals: port not allowed (403), own listener (403), client not allowed (403), origin-form (403); an intercepted closed port is a recorded 502', async (t) => {
  const pki = await forwardPki(t);
  const dead = await closedPort();
  const qp = await startNode(t, pki.dir, {
    mode: 'Record',
    forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, upstream_ca: 'upstream-ca.pem', allow_ports: [443, dead, 1] },
  });
  const port = Number(new URL(qp.proxy).port);
  const ssh = await rawConnect(port, 'localhost:22');
  ssh.socket.destroy();
  assert.match(ssh.head, /^HTTP\/1\.1 403 /);
  assert.match(ssh.head, /"code":"QP_ERR_FORWARD_DENIED"/);
  assert.match(ssh.head, /port 22 is not allowed/);

  // The node's own API, reached through the forward proxy: a loop. allow_ports does not matter here.
  const qp2 = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, allow_ports: [1] } }, 'loop.json');
  const apiPort = qp2.addresses.api.port;
  const own = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-x', qp2.proxy, `http://127.0.0.1:${apiPort}/api/status`]);
  assert.equal(own.stdout, '403', 'a plain request to the node\'s own API is refused');
  // curl never sends "localhost" through a proxy, so this one is written by hand.
  const fwdPort = Number(new URL(qp2.proxy).port);
  const ownForward = await rawExchange(fwdPort, `GET http://localhost:${fwdPort}/ HTTP/1.1\r\nHost: localhost:${fwdPort}\r\nConnection: close\r\n\r\n`);
  assert.match(ownForward, /^HTTP\/1\.1 403 /, 'a name that resolves to the forward listener itself is refused');
  assert.match(ownForward, /QP_ERR_FORWARD_DENIED/);
  assert.equal(await waitMetric(qp2.api, 'qproxy_forward_denied_total{reason="loop"}', 2), 2);

  const originForm = await run('curl', ['-sS', '-w', '\n%{http_code}', `${qp.proxy}/just-a-path`]);
  assert.equal(originForm.stdout.split('\n')[1], '403');

  // Intercepted, but nothing listens there: the request inside the tunnel gets a recorded 502.
  const closed = await run('curl', ['-sS', '-w', '\n%{http_code}', '--cacert', join(pki.dir, 'ca.pem'), '-x', qp.proxy, `https://127.0.0.1:${dead}/gone`]);
  const [closedBody, closedStatus] = closed.stdout.split('\n');
  assert.equal(closedStatus, '502');
  assert.equal(parseJson(closedBody!).code, 'QP_ERR_DOWNSTREAM_CONNECT');
  const [rec] = await recordsMatching(qp.api, (r) => r.status === 502, 1);
  assert.equal(rec!.url, `https://127.0.0.1:${dead}/gone`);
  assert.equal(rec!.error, 'QP_ERR_DOWNSTREAM_CONNECT');

  const qp3 = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, allow_clients: ['10.0.0.0/8'] } }, 'clients.json');
  const outsider = await rawConnect(Number(new URL(qp3.proxy).port), 'example.com:443');
  outsider.socket.destroy();
  assert.match(outsider.head, /^HTTP\/1\.1 403 /);
  assert.match(outsider.head, /not in forward\.allow_clients/);
});

test('bad input: a garbage ClientHello and a client that does not trust the CA fail alone; the proxy keeps serving', async (t) => {
  const pki = await forwardPki(t);
  const up = await httpsUpstream(t, pki);
  const qp = await startNode(t, pki.dir, {
    mode: 'Record',
    forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, upstream_ca: 'upstream-ca.pem', allow_ports: [up.port] },
  });
  const port = Number(new URL(qp.proxy).port);
  const garbage = await rawConnect(port, `localhost:${up.port}`);
  assert.match(garbage.head, /^HTTP\/1\.1 200 /);
  const closed = new Promise<void>((resolve) => garbage.socket.once('close', () => resolve()));
  garbage.socket.on('error', () => undefined);
  // A TLS record header announcing a handshake, then noise.
  garbage.socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 0xab)]));
  await closed;

  const untrusting = await run('curl', ['-sS', '-x', qp.proxy, `https://localhost:${up.port}/`]);
  assert.equal(untrusting.code, 60, 'curl refuses a certificate from a CA it does not trust');
  const ok = await run('curl', ['-sS', '--cacert', join(pki.dir, 'ca.pem'), '-x', qp.proxy, `https://localhost:${up.port}/after`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(parseJson(ok.stdout).url, '/after');
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_tls_handshakes_total{result="failed"}', 2), 2);
  const recs = await recordsMatching(qp.api, () => true, 1);
  assert.equal(new URL(recs[0]!.url!).pathname, '/after', 'failed handshakes leave no records');
  const body = (await getRecord(qp.api, recs[0]!.id)).response as { body: unknown };
  assert.equal(parseJson(bodyText(body.body)).url, '/after');
});
