/**
 * Everything in examples/ must keep working: every config passes `qproxy check-config` (the real
 * binary, which reads the certificate files too), every nats-server config passes `nats-server -t`,
 * and the certificate script makes certificates that verify for their purpose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLI } from '../e2e/helpers.js';

const run = promisify(execFile);
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function hasCommand(name: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

test('every example config passes qproxy check-config (the peer example after its make-certs.sh)', async (t) => {
  // check-config reads the certificates a config names: the peer example gets them from its script, as a user does.
  const copy = await mkdtemp(join(tmpdir(), 'qproxy-examples-'));
  t.after(() => rm(copy, { recursive: true, force: true }));
  await cp(EXAMPLES, copy, { recursive: true });
  await run('bash', [join(copy, 'two-zone-peer', 'make-certs.sh')]);
  const configs = await filesUnder(copy, '.json');
  assert.ok(configs.length >= 6, `examples/ holds its configs (found ${configs.length})`);
  const modes = new Set<string>();
  for (const file of configs) {
    const name = relative(copy, file);
    // Secrets are left to the environment in the examples; check-config must not need them.
    const { stdout } = await run(process.execPath, [CLI, 'check-config', file], { env: { ...process.env, CONFIG_PATH: '' } }).catch(
      (err: Error & { stderr?: string }) => assert.fail(`${name} does not load:\n${err.stderr ?? err.message}`),
    );
    assert.match(stdout, /: OK, mode (Record|Playback)/, `${name}: check-config output`);
    modes.add(/mode (\w+)/.exec(stdout)![1]!);
  }
  assert.deepEqual([...modes].sort(), ['Playback', 'Record'], 'the examples show both modes');
});

test('every example nats-server config passes nats-server -t', async (t) => {
  const confs = await filesUnder(EXAMPLES, '.conf');
  if (confs.length === 0) return t.skip('no nats-server configs in examples/');
  if (!(await hasCommand('nats-server'))) return t.skip('nats-server is not installed (.ci/run installs it)');
  for (const file of confs) {
    // The examples take the client token from the environment, as a deployment would.
    const env = { ...process.env, QPROXY_NATS_TOKEN: 'example-token' };
    const { stdout, stderr } = await run('nats-server', ['-t', '-c', file], { env }).catch((err: Error & { stderr?: string; stdout?: string }) =>
      assert.fail(`${relative(EXAMPLES, file)} is not a valid nats-server config:\n${err.stderr ?? ''}${err.stdout ?? ''}`),
    );
    assert.match(stdout + stderr, /configuration file .* (is valid|test is successful)/i, relative(EXAMPLES, file));
  }
});

test('the two-zone certificate script makes a CA, a server and a client certificate that verify', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-examples-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(EXAMPLES, 'two-zone-peer'), dir, { recursive: true });
  await run('bash', [join(dir, 'make-certs.sh')]);
  const certs = join(dir, 'certs');
  const server = await run('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(certs, 'ca.pem'), join(certs, 'sync-b.pem')]);
  assert.match(server.stdout, /sync-b\.pem: OK/);
  const client = await run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(certs, 'ca.pem'), join(certs, 'record-a.pem')]);
  assert.match(client.stdout, /record-a\.pem: OK/);
  // The configs name exactly the files the script makes.
  const made = (await readdir(certs)).sort();
  for (const file of ['ca.pem', 'record-a.key', 'record-a.pem', 'sync-b.key', 'sync-b.pem']) assert.ok(made.includes(file), `certs/${file} is made`);
});
