/**
 * Zone B: records taken by the forward proxy are served by a Playback node that is itself the
 * forward proxy (the application only sets HTTPS_PROXY), matched on origin and path; the same
 * records serve on the ordinary `http` listener by path and replay as origin-form requests.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildReplayRequest } from '../../src/playback/http/rewrite.js';
import { httpRecord } from '../playback/helpers.js';
import { forwardPki, httpsUpstream, parseJson, recordsMatching, run, startNode } from './helpers.js';

test('a Playback node as the forward proxy answers from forward-proxy recordings', async (t) => {
  const pki = await forwardPki(t);
  let n = 0;
  const up = await httpsUpstream(t, pki, (req, body, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ answer: ++n, path: req.url, body: body.toString() }));
  });
  const cacert = join(pki.dir, 'ca.pem');
  const origin = `https://localhost:${up.port}`;
  const ca = { cert: 'ca.pem', key: 'ca-key.pem' };

  // Zone A: record through the forward proxy, then stop (the store file is what zone B gets).
  const zoneA = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, ca, upstream_ca: 'upstream-ca.pem', allow_ports: [up.port] }, storage: { path: 'shared.db', flush_interval: '20ms' } }, 'a.json');
  for (const path of ['/v1/items?page=1', '/v1/items?page=1', '/v1/orders']) {
    const r = await run('curl', ['-sS', '--cacert', cacert, '-x', zoneA.proxy, `${origin}${path}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  await recordsMatching(zoneA.api, (r) => r.status === 200, 3);
  await zoneA.node.stop();

  // Zone B: the same CA, serving; the real upstream is not consulted any more.
  const zoneB = await startNode(t, pki.dir, { mode: 'Playback', http: { port: 0 }, forward: { port: 0, ca, allow_ports: [up.port] }, storage: { path: 'shared.db' } }, 'b.json');
  const get = async (url: string, extra: string[] = []): Promise<{ status: string; body: string }> => {
    const r = await run('curl', ['-sS', '-w', '\n%{http_code}', '--cacert', cacert, '-x', zoneB.proxy, ...extra, url]);
    const at = r.stdout.lastIndexOf('\n');
    return { body: r.stdout.slice(0, at), status: r.stdout.slice(at + 1) };
  };
  const seenBefore = up.seen.length;
  const first = await get(`${origin}/v1/items?page=1`);
  const second = await get(`${origin}/v1/items?page=1`, ['--http1.1']);
  assert.equal(first.status, '200');
  assert.equal((JSON.parse(first.body) as { answer: number }).answer, 1, 'the first recorded answer first');
  assert.equal((JSON.parse(second.body) as { answer: number }).answer, 2, 'repeated requests get the recorded answers in order');
  assert.equal(parseJson((await get(`${origin}/v1/orders`)).body).path, '/v1/orders');
  assert.equal(up.seen.length, seenBefore, 'nothing reached the real host');

  // Another origin with the same path is not the recording's.
  const other = await get(`https://127.0.0.1:${up.port}/v1/orders`);
  assert.equal(other.status, '404');
  assert.equal(parseJson(other.body).code, 'QP_ERR_SERVE_NO_MATCH');

  // The ordinary serving listener matches the same records by path.
  const byPath = await run('curl', ['-sS', `http://127.0.0.1:${zoneB.addresses.http!.port}/v1/orders`]);
  assert.equal(parseJson(byPath.stdout).path, '/v1/orders');

  // Tunnel hosts are not served in zone B.
  const zoneB2 = await startNode(t, pki.dir, { mode: 'Playback', forward: { port: 0, ca, tunnel_hosts: ['*'], allow_ports: [up.port] }, storage: { path: 'b2.db' } }, 'b2.json');
  const tunnel = await run('curl', ['-sS', '--cacert', cacert, '-x', zoneB2.proxy, `${origin}/v1/orders`]);
  assert.match(tunnel.stderr, /CONNECT tunnel failed, response 403/);
});

test('forward-proxy records replay as origin-form requests to the replay target', () => {
  const rec = httpRecord({ url: 'https://api.example.com/v1/items?page=2', reqHeaders: [['Host', 'api.example.com'], ['Accept', 'application/json']] });
  const out = buildReplayRequest(rec, { keep_host: false, headers: {}, query: {}, set_headers: {} });
  assert.ok(!('skip' in out));
  assert.equal(out.path, '/v1/items?page=2');
  assert.deepEqual(out.headers, ['Accept', 'application/json']);
});
