/**
 * End to end: the built `qproxy` binary as a child process with a config file, a real backend, the
 * API over HTTP, SIGTERM drain, and the store file read back afterwards.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeTestPki } from '../helpers/tls.js';
import { backend, httpRequest, runCli, startCli, tempDir } from './helpers.js';

test('records traffic through the built binary, serves the API, drains on SIGTERM and keeps the records', async () => {
  const dir = await tempDir();
  const { url } = await backend();
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      mode: 'Record',
      node_id: 'e2e-node',
      http: { host: '127.0.0.1', port: 0, downstream: url },
      api: { host: '127.0.0.1', port: 0, token: 'secret-token' },
      storage: { path: 'data/e2e.db' },
      log: { level: 'info' },
    }),
  );
  const node = await startCli(configPath);

  const get = await httpRequest(`${node.http}/hello?x=1&token=abc`, { headers: { authorization: 'Bearer top-secret' } });
  assert.equal(get.status, 200);
  assert.equal((JSON.parse(get.body) as { url: string }).url, '/hello?x=1&token=abc');
  const post = await httpRequest(`${node.http}/items`, { method: 'POST', body: '{"name":"widget"}', headers: { 'content-type': 'application/json' } });
  assert.equal(post.status, 200);
  assert.equal((JSON.parse(post.body) as { body: string }).body, '{"name":"widget"}');

  const auth = { authorization: 'Bearer secret-token' };
  assert.equal((await httpRequest(`${node.api}/api/records`)).status, 401);
  // Records become visible after the store's flush interval; poll with a bound.
  let list: { records: Array<{ id: string; method: string; url: string; status: number; node_id: string }>; next: string | null } = { records: [], next: null };
  for (let i = 0; i < 100 && list.records.length < 2; i++) {
    list = JSON.parse((await httpRequest(`${node.api}/api/records?limit=10`, { headers: auth })).body) as typeof list;
    if (list.records.length < 2) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(list.records.length, 2);
  assert.deepEqual(list.records.map((r) => r.method), ['POST', 'GET'], 'newest first');
  assert.ok(list.records.every((r) => r.node_id === 'e2e-node' && r.status === 200));
  assert.match(list.records[1]!.url, /^\/hello\?x=1&token=REDACTED/);

  const full = JSON.parse((await httpRequest(`${node.api}/api/records/${list.records[1]!.id}`, { headers: auth })).body) as {
    request: { headers: Array<[string, string]> };
    redacted: string[];
  };
  const authHeader = full.request.headers.find(([n]) => n.toLowerCase() === 'authorization');
  assert.ok(authHeader && authHeader[1].startsWith('Bearer REDACTED:'), 'authorization is redacted at record time');
  assert.ok(full.redacted.includes('request.headers.authorization'));

  const status = JSON.parse((await httpRequest(`${node.api}/api/status`, { headers: auth })).body) as { mode: string; node_id: string; records: { count: number } };
  assert.equal(status.mode, 'Record');
  assert.equal(status.node_id, 'e2e-node');
  assert.equal(status.records.count, 2);
  const metrics = await httpRequest(`${node.api}/metrics`, { headers: auth });
  assert.match(metrics.body, /qproxy_http_requests_total\{[^}]*\} 2/);
  assert.equal((await httpRequest(`${node.api}/healthz`)).status, 200);

  // A third exchange right before SIGTERM must still be flushed to disk by the drain.
  assert.equal((await httpRequest(`${node.http}/last`)).status, 200);
  node.child.kill('SIGTERM');
  const [code] = (await once(node.child, 'exit')) as [number | null];
  assert.equal(code, 0, `exit code 0 after SIGTERM; stderr: ${node.stderr.join('')}`);

  const db = new Database(join(dir, 'data/e2e.db'), { readonly: true });
  after(() => db.close());
  const urls = (db.prepare('SELECT url FROM records ORDER BY seq').all() as Array<{ url: string }>).map((r) => r.url);
  assert.equal(urls.length, 3);
  assert.equal(urls[2], '/last');
});

test('check-config accepts the seed example and rejects a bad file with exit code 2', async (t) => {
  const dir = await tempDir();
  // The seed example's TCP listener serves TLS with cert.pem and key.pem: check-config reads them.
  const pki = await makeTestPki();
  t.after(() => pki.cleanup());
  await writeFile(join(dir, 'cert.pem'), pki.server.cert);
  await writeFile(join(dir, 'key.pem'), pki.server.key);
  const seed = join(dir, 'seed.json');
  await writeFile(
    seed,
    `{
    "http": {
        "host": "127.0.0.1",
        "port": 8080,
        "downstream": "http://localhost:8081"
    },
    "tcp": {
        "host": "127.0.0.1",
        "port": 8082,
        "downstream": ["localhost:8083"],
        "tls": {
            "tls_cert": "cert.pem",
            "tls_key": "key.pem"
        }
    },
    "mode": "Record",
    "peer": {
        "host": "remote-host",
        "port": 8084,
        "tls": true
    }
}`,
  );
  const ok = await runCli(['check-config', seed]);
  assert.equal(ok.code, 0, ok.stderr);

  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ mode: 'Recrod', http: { host: '127.0.0.1', port: 'eighty', dowstream: 'x' } }));
  const res = await runCli(['check-config', bad]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /mode/);
  assert.match(res.stderr, /http\.port/);
  assert.match(res.stderr, /dowstream/);

  const missing = await runCli([], { CONFIG_PATH: join(dir, 'nope.json') });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.json/);

  const usage = await runCli(['frobnicate']);
  assert.equal(usage.code, 2);
});
