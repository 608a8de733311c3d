/**
 * CONNECT with interception, driven by real clients: curl (HTTP/1.1 and h2 inside the tunnel),
 * undici's ProxyAgent and Debian's python3-requests, against a local HTTPS server whose own
 * certificate is trusted through forward.upstream_ca. Every exchange is recorded with its https
 * URL and bodies, redacted, and reached the upstream without the proxy's credentials.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProxyAgent, fetch as undiciFetch } from 'undici';
import { bodyText, forwardPki, getRecord, httpsUpstream, parseJson, recordsMatching, run, startNode, waitMetric } from './helpers.js';

test('curl, undici and Python requests through an intercepting forward proxy: recorded with https URLs and bodies', async (t) => {
  const pki = await forwardPki(t);
  const up = await httpsUpstream(t, pki);
  const qp = await startNode(t, pki.dir, {
    mode: 'Record',
    forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, upstream_ca: 'upstream-ca.pem', allow_ports: [up.port] },
  });
  const cacert = join(pki.dir, 'ca.pem');
  const origin = `https://localhost:${up.port}`;

  // curl over HTTP/1.1 inside the tunnel, with a body and a secret header.
  const h1 = await run('curl', ['-sS', '--http1.1', '--cacert', cacert, '-x', qp.proxy, '-H', 'Authorization: Bearer s3cret', '--data-binary', '{"n":1}', `${origin}/h1?token=abc`]);
  assert.equal(h1.code, 0, h1.stderr);
  assert.deepEqual(parseJson(h1.stdout), { method: 'POST', url: '/h1?token=abc', body: '{"n":1}' });

  // curl negotiating h2 with the proxy's leaf certificate (ALPN h2 inside CONNECT).
  const h2 = await run('curl', ['-sS', '--http2', '-w', '\n%{http_version}', '--cacert', cacert, '-x', qp.proxy, `${origin}/h2`]);
  assert.equal(h2.code, 0, h2.stderr);
  const [h2Body, h2Version] = h2.stdout.split('\n');
  assert.equal(h2Version, '2', 'curl spoke HTTP/2 to the proxy');
  assert.equal(parseJson(h2Body!).url, '/h2');

  // undici's ProxyAgent (what Node's fetch uses behind HTTPS_PROXY), trusting the CA.
  const agent = new ProxyAgent({ uri: qp.proxy, requestTls: { ca: pki.caPem } });
  t.after(() => agent.close());
  const res = await undiciFetch(`${origin}/undici`, { dispatcher: agent, method: 'PUT', body: 'from-undici' });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { body: string }).body, 'from-undici');

  // Debian's python3-requests with HTTPS_PROXY and REQUESTS_CA_BUNDLE.
  const py = await run('/usr/bin/python3', ['-c', `import requests; r = requests.get("${origin}/python", params={"q": "1"}); print(r.status_code, r.json()["url"])`], {
    HTTPS_PROXY: qp.proxy,
    REQUESTS_CA_BUNDLE: cacert,
  });
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.trim(), '200 /python?q=1');

  const recs = await recordsMatching(qp.api, (r) => r.protocol === 'http', 4);
  const byPath = new Map(recs.map((r) => [new URL(r.url!).pathname, r]));
  for (const path of ['/h1', '/h2', '/undici', '/python']) {
    const r = byPath.get(path);
    assert.ok(r, `${path} was recorded`);
    assert.ok(r.url!.startsWith(`${origin}/`), `url carries the real https origin: ${r.url}`);
    assert.equal(r.status, 200);
    assert.equal(r.downstream, `https://localhost:${up.port}`);
  }
  const full = await getRecord(qp.api, byPath.get('/h1')!.id);
  const req = full.request as { url: string; headers: [string, string][]; body: unknown; http_version: string };
  const resp = full.response as { body: unknown; status: number };
  assert.match(req.url, /^https:\/\/localhost:\d+\/h1\?token=REDACTED/, 'query secrets are redacted as in reverse-proxy records');
  const auth = req.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1] ?? '';
  assert.match(auth, /^Bearer REDACTED/);
  assert.equal(bodyText(req.body), '{"n":1}');
  assert.equal(parseJson(bodyText(resp.body)).body, '{"n":1}');
  const tls = full.tls as { alpn: string | null; sni: string | null };
  assert.equal(tls.alpn, 'http/1.1');
  assert.equal(tls.sni, 'localhost');
  assert.equal(((await getRecord(qp.api, byPath.get('/h2')!.id)).request as { http_version: string }).http_version, '2.0');

  // The upstream got Via, but neither X-Forwarded-* nor anything proxy-specific.
  for (const s of up.seen) {
    assert.match(String(s.headers.via), /qproxy/);
    assert.equal(s.headers['x-forwarded-for'], undefined);
    assert.equal(s.headers['proxy-authorization'], undefined);
  }
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_connects_total{mode="intercept"}', 4), 4);
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_tls_handshakes_total{result="ok"}', 4), 4);
});

test('plain absolute-form HTTP is proxied and recorded; credentials are asked for and never passed on', async (t) => {
  const pki = await forwardPki(t);
  const { createServer } = await import('node:http');
  const seen: Record<string, string | string[] | undefined>[] = [];
  const plain = createServer((req, res) => {
    seen.push(req.headers);
    res.end(`plain ${req.url}`);
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.after(() => plain.close());
  const port = (plain.address() as { port: number }).port;
  const qp = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, auth: { username: 'app', password: 'pw-123' } } });

  const denied = await run('curl', ['-sS', '-w', '\n%{http_code}', '-x', qp.proxy, `http://127.0.0.1:${port}/x`]);
  const [deniedBody, deniedStatus] = denied.stdout.split('\n');
  assert.equal(deniedStatus, '407');
  assert.equal(parseJson(deniedBody!).code, 'QP_ERR_PROXY_AUTH');
  const wrong = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-x', qp.proxy, '-U', 'app:nope', `http://127.0.0.1:${port}/x`]);
  assert.equal(wrong.stdout, '407');

  const ok = await run('curl', ['-sS', '-x', `http://app:pw-123@127.0.0.1:${new URL(qp.proxy).port}`, `http://127.0.0.1:${port}/items?a=1`]);
  assert.equal(ok.stdout, 'plain /items?a=1');
  assert.equal(seen.length, 1, 'only the authenticated request reached the server');
  assert.equal(seen[0]!['proxy-authorization'], undefined, 'Proxy-Authorization is consumed by QProxy');

  const [rec] = await recordsMatching(qp.api, (r) => r.status === 200, 1);
  assert.equal(rec!.url, `http://127.0.0.1:${port}/items?a=1`);
  const full = await getRecord(qp.api, rec!.id);
  const pa = (full.request as { headers: [string, string][] }).headers.find(([n]) => n.toLowerCase() === 'proxy-authorization')?.[1] ?? '';
  assert.match(pa, /^Basic REDACTED/, 'the proxy credentials are redacted in the record');
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_denied_total{reason="auth"}', 2), 2);
});
