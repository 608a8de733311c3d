/**
 * The files a config names (certificates, keys, CA bundles, NATS creds) are checked the same way by
 * `qproxy check-config` and by a starting node: real files in a temp folder, a real PKI made with
 * openssl, and the built binary run both ways.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfigFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { runCli } from '../e2e/helpers.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { tempDir, writeConfig } from './temp-config.js';

function problemsOf(path: string): string[] {
  try {
    checkConfigFile(path, { env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  return [];
}

/** A Record config naming every file a Record config can name, under `names` (relative paths). */
function recordNaming(files: { cert: string; key: string; ca: string }): object {
  const tls = { tls_cert: files.cert, tls_key: files.key, ca: files.ca };
  return {
    mode: 'Record',
    http: { port: 0, downstream: 'https://127.0.0.1:9', tls, downstream_tls: { ca: files.ca } },
    tcp: { port: 0, downstream: ['127.0.0.1:9'], tls, downstream_tls: { enabled: true, ca: files.ca } },
    sync: { tls },
    peer: { host: '127.0.0.1', port: 9, tls: true, ca: files.ca, cert: files.cert, key: files.key },
    api: { port: 0 },
  };
}

/** A Playback config on NATS naming its TLS files and a creds file. */
function natsPlaybackNaming(files: { cert: string; key: string; ca: string; creds: string }): object {
  return {
    mode: 'Playback',
    nats: { servers: 'tls://127.0.0.1:4222', creds: files.creds, tls: { ca: files.ca, cert: files.cert, key: files.key } },
    api: { port: 0 },
  };
}

const CREDS = `-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.AA
------END NATS USER JWT------

-----BEGIN USER NKEY SEED-----
SUAAVZ5BSMEFTWQGHOAYVLHNVMPMNXKJ3YHCMDYT5OWHRRTDJKLX4OLNUE
------END USER NKEY SEED------
`;

async function writePki(dir: string, pki: TestPki): Promise<void> {
  await writeFile(join(dir, 'cert.pem'), pki.server.cert);
  await writeFile(join(dir, 'key.pem'), pki.server.key);
  await writeFile(join(dir, 'ca.pem'), pki.ca);
  await writeFile(join(dir, 'client.pem'), pki.client.cert);
  await writeFile(join(dir, 'nats.creds'), CREDS);
  await writeFile(join(dir, 'garbage.pem'), 'not a certificate\n');
}

test('every file a config names is checked: each missing one is reported on its own line, naming its field', async (t) => {
  const dir = await tempDir(t);
  const missing = { cert: 'gone/cert.pem', key: 'gone/key.pem', ca: 'gone/ca.pem', creds: 'gone/user.creds' };
  const record = problemsOf(await writeConfig(dir, 'record.json', recordNaming(missing)));
  assert.deepEqual(
    record.map((line) => line.split(':')[0]),
    [
      'http.tls.tls_cert', 'http.tls.tls_key', 'http.tls.ca',
      'tcp.tls.tls_cert', 'tcp.tls.tls_key', 'tcp.tls.ca',
      'sync.tls.tls_cert', 'sync.tls.tls_key', 'sync.tls.ca',
      'http.downstream_tls.ca', 'tcp.downstream_tls.ca',
      'peer.ca', 'peer.cert', 'peer.key',
    ],
    record.join('\n'),
  );
  assert.match(record[0]!, new RegExp(`^http\\.tls\\.tls_cert: cannot read "${join(dir, 'gone/cert.pem').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" \\(ENOENT`));
  const nats = problemsOf(await writeConfig(dir, 'nats.json', natsPlaybackNaming(missing)));
  assert.deepEqual(nats.map((line) => line.split(':')[0]), ['nats.tls.ca', 'nats.tls.cert', 'nats.tls.key', 'nats.creds'], nats.join('\n'));
});

test('files that exist must hold what their field needs: a certificate, a CA, a key of that certificate, NATS creds', async (t) => {
  const dir = await tempDir(t);
  const pki = await makeTestPki();
  t.after(() => pki.cleanup());
  await writePki(dir, pki);

  const good = { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem', creds: 'nats.creds' };
  assert.deepEqual(problemsOf(await writeConfig(dir, 'good.json', recordNaming(good))), []);
  assert.deepEqual(problemsOf(await writeConfig(dir, 'good-nats.json', natsPlaybackNaming(good))), []);

  const wrongKey = problemsOf(await writeConfig(dir, 'mismatch.json', { mode: 'Record', http: { port: 0, downstream: 'http://127.0.0.1:9', tls: { tls_cert: 'client.pem', tls_key: 'key.pem' } } }));
  assert.equal(wrongKey.length, 1, wrongKey.join('\n'));
  assert.match(wrongKey[0]!, /^http\.tls\.tls_key: the key in ".*key\.pem" does not belong to the certificate in http\.tls\.tls_cert \(".*client\.pem"\)/);

  const garbage = { cert: 'garbage.pem', key: 'garbage.pem', ca: 'garbage.pem', creds: 'garbage.pem' };
  const bad = problemsOf(await writeConfig(dir, 'garbage.json', { mode: 'Playback', sync: { tls: { tls_cert: garbage.cert, tls_key: garbage.key, ca: garbage.ca } }, api: { port: 0 } }));
  assert.equal(bad.length, 3, bad.join('\n'));
  assert.match(bad[0]!, /^sync\.tls\.tls_cert: ".*garbage\.pem" is not a PEM certificate \(/);
  assert.match(bad[1]!, /^sync\.tls\.tls_key: ".*garbage\.pem" is not an unencrypted PEM private key \(/);
  assert.match(bad[2]!, /^sync\.tls\.ca: ".*garbage\.pem" is not a PEM CA bundle/);
  const badCreds = problemsOf(await writeConfig(dir, 'creds.json', natsPlaybackNaming({ ...good, creds: 'garbage.pem' })));
  assert.deepEqual(badCreds.length, 1, badCreds.join('\n'));
  assert.match(badCreds[0]!, /^nats\.creds: ".*garbage\.pem" is not a NATS credentials file/);
});

test('the binary: check-config and starting the node refuse a missing certificate alike (exit 2, same message); both accept it once it exists', async (t) => {
  const dir = await tempDir(t);
  const path = await writeConfig(dir, 'config.json', {
    mode: 'Record',
    http: { host: '127.0.0.1', port: 0, downstream: 'http://127.0.0.1:9', tls: { tls_cert: 'cert.pem', tls_key: 'key.pem' } },
    api: { host: '127.0.0.1', port: 0 },
    storage: { path: 'data/q.db' },
  });
  const check = await runCli(['check-config', path]);
  const start = await runCli(['--config', path]);
  assert.equal(check.code, 2, check.stdout + check.stderr);
  assert.equal(start.code, 2, start.stdout + start.stderr);
  assert.match(check.stderr, /http\.tls\.tls_cert: cannot read ".*cert\.pem" \(ENOENT/);
  assert.equal(start.stderr, check.stderr, 'the same problems, worded the same');

  const pki = await makeTestPki();
  t.after(() => pki.cleanup());
  await writePki(dir, pki);
  const ok = await runCli(['check-config', path]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /: OK, mode Record/);
});
