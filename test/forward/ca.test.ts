/**
 * QProxy's CA: `qproxy ca create` / `show` as a child process, what leaves look like to openssl,
 * the checks on CA files, and the leaf cache staying bounded over 10,000 distinct host names
 * (minted through the cache, plus real handshakes with distinct SNI names through the proxy).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { CertificateAuthority, LeafContexts, caMinter, createCa, type LeafMinter } from '../../src/tls/index.js';
import { CLI } from '../e2e/helpers.js';
import { forwardPki, httpsUpstream, run, startNode, tempDir, waitMetric } from './helpers.js';

const exec = promisify(execFile);

test('qproxy ca create writes ca.pem and a 0600 key, refuses to overwrite without --force; ca show prints the fingerprint', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'pki');
  const created = await run(process.execPath, [CLI, 'ca', 'create', '--out', out]);
  assert.equal(created.code, 0, created.stderr);
  for (const hint of ['--cacert', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'update-ca-certificates']) assert.ok(created.stdout.includes(hint), `prints how to trust it: ${hint}`);
  assert.equal((await stat(join(out, 'ca-key.pem'))).mode & 0o777, 0o600);
  const { stdout: fp } = await exec('openssl', ['x509', '-in', join(out, 'ca.pem'), '-noout', '-fingerprint', '-sha256']);
  const expected = fp.trim().split('=')[1]!;
  const { stdout: text } = await exec('openssl', ['x509', '-in', join(out, 'ca.pem'), '-noout', '-text']);
  assert.match(text, /CA:TRUE, pathlen:0/);
  assert.match(text, /Certificate Sign/);

  const again = await run(process.execPath, [CLI, 'ca', 'create', '--out', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists.*--force/);
  assert.ok((await readFile(join(out, 'ca.pem'), 'utf8')).includes('BEGIN CERTIFICATE'), 'the old CA is untouched');

  const shown = await run(process.execPath, [CLI, 'ca', 'show', '--out', out]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.includes(expected), 'ca show prints the SHA-256 fingerprint openssl computes');

  const forced = await run(process.execPath, [CLI, 'ca', 'create', '--out', out, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.ok(!(await run(process.execPath, [CLI, 'ca', 'show', '--out', out])).stdout.includes(expected), '--force made a new CA');
  assert.equal((await run(process.execPath, [CLI, 'ca', 'bogus'])).code, 2);
});

test('leaves verify against the CA with openssl; bad CA files are refused with a reason', async (t) => {
  const pki = await forwardPki(t);
  const ca = await CertificateAuthority.fromPem(pki.caPem, await readFile(join(pki.dir, 'ca-key.pem')));
  const leaf = await ca.mint('API.Example.COM.');
  const leafPem = leaf.chainPem.slice(0, leaf.chainPem.indexOf('-----END CERTIFICATE-----') + 25);
  await writeFile(join(pki.dir, 'leaf.pem'), leafPem);
  const { stdout: verified } = await exec('openssl', ['verify', '-CAfile', join(pki.dir, 'ca.pem'), '-purpose', 'sslserver', join(pki.dir, 'leaf.pem')]);
  assert.match(verified, /OK/);
  const { stdout: text } = await exec('openssl', ['x509', '-in', join(pki.dir, 'leaf.pem'), '-noout', '-text']);
  assert.match(text, /Subject: CN ?= ?api\.example\.com/);
  assert.match(text, /DNS:api\.example\.com/);
  assert.match(text, /Authority Key Identifier/);
  assert.doesNotMatch(text, /Subject Key Identifier/, 'no SKI on leaves (mitmproxy #6494)');
  const ip = await ca.mint('127.0.0.1');
  await writeFile(join(pki.dir, 'ip.pem'), ip.chainPem);
  assert.match((await exec('openssl', ['x509', '-in', join(pki.dir, 'ip.pem'), '-noout', '-ext', 'subjectAltName'])).stdout, /IP Address:127\.0\.0\.1/);
  await assert.rejects(ca.mint('bad host!'), { code: 'QP_ERR_CA_HOST' });

  // A server certificate is not a CA; a key of another CA does not match.
  await assert.rejects(CertificateAuthority.fromPem(pki.upstream.server.cert, pki.upstream.server.key), { code: 'QP_ERR_CA_INVALID', message: /not a CA certificate/ });
  const other = await createCa('Other', 'QProxy');
  await assert.rejects(CertificateAuthority.fromPem(pki.caPem, other.keyPem), { code: 'QP_ERR_CA_INVALID', message: /does not belong/ });
});

test('the leaf cache stays bounded over 10,000 distinct host names; real mints and real handshakes with distinct SNI names too', async (t) => {
  const pki = await forwardPki(t);
  const ca = await CertificateAuthority.fromPem(pki.caPem, await readFile(join(pki.dir, 'ca-key.pem')));
  // 10,000 names through the cache. A real mint costs milliseconds of CPU (more on a loaded CI
  // box), so this part counts the calls with a minter that hands out a fresh context per name;
  // the real minter is exercised right after and through the proxy below.
  const realContext = await caMinter(ca).mint('shared.example.test');
  const calls: string[] = [];
  const counting: LeafMinter = { mint: (host) => (calls.push(host), Promise.resolve({ context: realContext.context, notAfter: realContext.notAfter })) };
  const cache = new LeafContexts(counting, 100);
  let largest = 0;
  for (let i = 0; i < 10_000; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => cache.contextFor(`host-${i + j}.example.test`)));
    largest = Math.max(largest, cache.size);
  }
  assert.equal(cache.minted, 10_000);
  assert.equal(new Set(calls).size, 10_000, 'one mint per distinct name');
  assert.equal(largest, 100, 'never more contexts than the capacity');
  await cache.contextFor('HOST-9999.example.test.');
  assert.equal(cache.minted, 10_000, 'a recent name is a hit (case and a trailing dot do not matter)');
  await cache.contextFor('host-0.example.test');
  assert.equal(cache.minted, 10_001, 'an evicted name is minted again');
  const [a, b] = await Promise.all([cache.contextFor('same.example.test'), cache.contextFor('same.example.test')]);
  assert.equal(a, b, 'concurrent handshakes for one new name share one mint');

  const real = new LeafContexts(caMinter(ca), 20);
  for (let i = 0; i < 60; i++) await real.contextFor(`real-${i}.example.test`);
  assert.equal(real.size, 20);
  assert.equal(real.minted, 60);

  // Through the proxy: 12 handshakes for 12 SNI names, with a cache of 5.
  const up = await httpsUpstream(t, pki);
  const qp = await startNode(t, pki.dir, { mode: 'Record', forward: { port: 0, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, upstream_ca: 'upstream-ca.pem', cert_cache_size: 5, allow_ports: [up.port] } });
  const proxyPort = Number(new URL(qp.proxy).port);
  for (let i = 0; i < 12; i++) {
    const name = `sni-${i}.example.test`;
    const cert = await new Promise<{ subject: string }>((resolve, reject) => {
      const raw = connect(proxyPort, '127.0.0.1', () => raw.write(`CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`));
      raw.once('error', reject);
      raw.once('data', (chunk: Buffer) => {
        assert.match(chunk.toString(), /^HTTP\/1\.1 200 /);
        const s = tlsConnect({ socket: raw, servername: name, ca: pki.caPem }, () => {
          resolve({ subject: String(s.getPeerCertificate().subject.CN) });
          s.destroy();
        });
        s.once('error', reject);
      });
    });
    assert.equal(cert.subject, name, 'the leaf is minted for the SNI name');
  }
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_certificates_minted_total', 13), 13, '12 SNI names and the CONNECT host');
  assert.equal(await waitMetric(qp.api, 'qproxy_forward_certificate_cache_entries', 5), 5);
});

test('config: a forward listener off loopback needs allow_clients or auth; a Playback one needs the CA; the password can come from the environment', async (t) => {
  const dir = await tempDir(t);
  const { loadConfig } = await import('../../src/config/load.js');
  const load = async (config: object, env: NodeJS.ProcessEnv = {}) => {
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    return loadConfig({ cwd: dir, env });
  };
  await assert.rejects(load({ mode: 'Record', forward: { host: '0.0.0.0', port: 8086 } }), /forward\.host: is "0\.0\.0\.0", not a loopback address.*allow_clients/);
  assert.ok(await load({ mode: 'Record', forward: { host: '0.0.0.0', port: 8086, allow_clients: ['10.0.0.0/8'] } }));
  await assert.rejects(load({ mode: 'Playback', forward: { port: 8086 } }), /forward\.ca: is required on a Playback node/);
  await assert.rejects(load({ mode: 'Record', forward: { port: 8086, allow_ports: [] } }), /forward\.allow_ports/);
  await assert.rejects(load({ mode: 'Record', forward: { port: 8086, auth: { username: 'app' } } }), /forward\.auth\.password/);
  const withEnv = await load({ mode: 'Record', forward: { host: '0.0.0.0', port: 8086, auth: { username: 'app' } } }, { QPROXY_FORWARD_PASSWORD: 'from-env' });
  assert.equal(withEnv.config.forward?.auth?.password, 'from-env');
  const loaded = await load({ mode: 'Record', forward: { port: 8086, ca: { cert: 'ca.pem', key: 'ca-key.pem' } } });
  assert.equal(loaded.config.forward?.ca?.cert, join(dir, 'ca.pem'), 'CA paths resolve against the config file\'s folder');
  assert.deepEqual(loaded.config.forward?.allow_ports, [443, 80]);
  assert.equal(loaded.config.forward?.host, '127.0.0.1');
});
