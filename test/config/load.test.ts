import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { checkConfigFile, loadConfig } from '../../src/config/load.js';
import { makeTestPki } from '../helpers/tls.js';
import { SEED_EXAMPLE, minimalRecord, tempDir, writeConfig } from './temp-config.js';

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'QP_ERR_CONFIG');
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

test('the seed README example loads unchanged', async (t) => {
  const dir = await tempDir(t);
  const path = await writeConfig(dir, 'config.json', SEED_EXAMPLE);
  const { config, path: loadedFrom } = loadConfig({ cwd: dir, env: {} });
  assert.equal(loadedFrom, path);
  assert.equal(config.mode, 'Record');
  assert.deepEqual(config.http?.downstream, ['http://localhost:8081']);
  assert.equal(config.http?.port, 8080);
  assert.deepEqual(config.tcp?.downstream, ['localhost:8083']);
  assert.deepEqual(config.tcp?.tls, { tls_cert: join(dir, 'cert.pem'), tls_key: join(dir, 'key.pem') });
  assert.deepEqual(config.peer, {
    host: 'remote-host',
    port: 8084,
    tls: true,
    // sync tuning defaults (src/config/schema-sync.ts)
    batch_max_records: 500,
    batch_max_bytes: 4 * 1024 * 1024,
    compression: 'br',
    streams: 4,
    ping_interval: 5000,
    ping_timeout: 5000,
    connect_timeout: 10_000,
    ack_timeout: 60_000,
    backoff_initial: 250,
    backoff_max: 30_000,
    poll_interval: 100,
  });
});

test('defaults are applied to every optional section', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', { mode: 'Record', http: { port: 8080, downstream: 'http://127.0.0.1:9000' } });
  const { config } = loadConfig({ cwd: dir, env: {} });
  assert.equal(config.node_id, hostname());
  assert.deepEqual(config.http, {
    host: '127.0.0.1',
    port: 8080,
    downstream: ['http://127.0.0.1:9000'],
    trusted_proxies: [],
    downstream_tls: { reject_unauthorized: true },
    limits: { max_header_size: 16_384, max_headers_count: 100, max_body_size: 0, max_connections: 4096 },
    timeouts: {
      header_read: 15_000,
      request: 300_000,
      idle: 60_000,
      downstream_connect: 3_000,
      downstream_response: 30_000,
      downstream_idle: 300_000,
    },
    balancing: {
      policy: 'round_robin',
      resolve_interval: 30_000,
      health_check: { enabled: false, interval: 5_000, timeout: 2_000, rise: 2, fall: 3, path: '/' },
      passive: { failures: 5, ejection: 30_000, max_ejection: 300_000 },
    },
  });
  assert.equal(config.tcp, undefined);
  assert.equal(config.peer, undefined);
  assert.deepEqual(config.sync, {
    host: '0.0.0.0',
    port: 8084,
    max_batch_bytes: 64 * 1024 * 1024,
    max_connections: 256,
    max_connections_per_address: 16,
    auth_timeout: 10_000,
    allowed_clients: [],
  });
  assert.deepEqual(config.api, { host: '127.0.0.1', port: 8085, allowed_hosts: [], ui: true });
  assert.deepEqual(config.storage, {
    path: join(dir, 'data/qproxy.db'),
    retention: 72 * 3_600_000,
    max_size: 10 * 2 ** 30,
    max_body: 2 ** 20,
    flush_interval: 100,
    synchronous: 'normal',
    queue_max_records: 10_000,
    queue_max_bytes: 64 * 2 ** 20,
    purge_interval: 60_000,
    segment_size: 64 * 1024 * 1024,
  });
  assert.deepEqual(config.recording, {
    enabled: true,
    include: [],
    exclude: [],
    sample: { rate: 1 },
    redaction: { enabled: true, headers: [], query_params: [], json_paths: [], body_patterns: [], replace_defaults: false },
    websocket: { frames: true, max_bytes: 16 * 2 ** 20 },
  });
  assert.deepEqual(config.shutdown, { drain_timeout: 30_000 });
  assert.deepEqual(config.log, { level: 'info' });
});

test('explicit values are converted: sizes to bytes, durations to ms, header names lower-cased', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(
    dir,
    'config.json',
    minimalRecord({
      $schema: './config.schema.json',
      node_id: 'az-a-1',
      storage: { retention: '1h30m', max_size: '1.5GiB', max_body: 4096, flush_interval: '250ms', synchronous: 'full' },
      recording: { redaction: { headers: ['X-Secret'], json_paths: ['$..token'], body_patterns: ['card=(\\d+)'] } },
    }),
  );
  const { config } = loadConfig({ cwd: dir, env: {} });
  assert.equal(config.node_id, 'az-a-1');
  assert.equal(config.storage.retention, 5_400_000);
  assert.equal(config.storage.max_size, 1_610_612_736);
  assert.equal(config.storage.max_body, 4096);
  assert.equal(config.storage.flush_interval, 250);
  assert.equal(config.storage.synchronous, 'full');
  assert.deepEqual(config.recording.redaction.headers, ['x-secret']);
  assert.deepEqual(config.recording.redaction.json_paths, ['$..token']);
});

test('relative file paths resolve against the config file folder, not the working directory', async (t) => {
  const dir = await tempDir(t);
  const elsewhere = await tempDir(t);
  await writeConfig(
    dir,
    'etc/qproxy.json',
    minimalRecord({
      http: {
        port: 8443,
        downstream: 'https://127.0.0.1:9443',
        tls: { tls_cert: 'certs/cert.pem', tls_key: './certs/key.pem', ca: '../ca.pem' },
        downstream_tls: { ca: 'down-ca.pem' },
      },
      peer: { host: 'b.internal', tls: true, ca: 'peer-ca.pem', cert: 'peer.pem', key: '/abs/peer.key' },
      sync: { tls: { tls_cert: 'sync.pem', tls_key: 'sync.key' } },
      storage: { path: 'var/q.db' },
    }),
  );
  const { config, path } = loadConfig({ path: join(dir, 'etc/qproxy.json'), cwd: elsewhere, env: {} });
  const etc = join(dir, 'etc');
  assert.equal(path, join(etc, 'qproxy.json'));
  assert.deepEqual(config.http?.tls, { tls_cert: join(etc, 'certs/cert.pem'), tls_key: join(etc, 'certs/key.pem'), ca: join(dir, 'ca.pem') });
  assert.equal(config.http?.downstream_tls.ca, join(etc, 'down-ca.pem'));
  assert.equal(config.peer?.ca, join(etc, 'peer-ca.pem'));
  assert.equal(config.peer?.cert, join(etc, 'peer.pem'));
  assert.equal(config.peer?.key, '/abs/peer.key');
  assert.equal(config.sync.tls?.tls_cert, join(etc, 'sync.pem'));
  assert.equal(config.storage.path, join(etc, 'var/q.db'));
});

test('path precedence: explicit path, then CONFIG_PATH, then ./config.json', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', minimalRecord({ node_id: 'from-cwd' }));
  await writeConfig(dir, 'env/config.json', minimalRecord({ node_id: 'from-env' }));
  await writeConfig(dir, 'arg.json', minimalRecord({ node_id: 'from-arg' }));
  const env = { CONFIG_PATH: 'env/config.json' };
  assert.equal(loadConfig({ cwd: dir, env: {} }).config.node_id, 'from-cwd');
  assert.equal(loadConfig({ cwd: dir, env }).config.node_id, 'from-env');
  assert.equal(loadConfig({ cwd: dir, env }).path, join(dir, 'env/config.json'));
  assert.equal(loadConfig({ cwd: dir, env, path: 'arg.json' }).config.node_id, 'from-arg');
  assert.equal(loadConfig({ cwd: dir, env: { CONFIG_PATH: '' } }).config.node_id, 'from-cwd', 'an empty CONFIG_PATH is unset');
});

test('a missing file names the path tried and how to point at another one', async (t) => {
  const dir = await tempDir(t);
  const byDefault = configErrorOf(() => loadConfig({ cwd: dir, env: {} }));
  assert.match(byDefault.message, /config file not found/);
  assert.ok(byDefault.message.includes(join(dir, 'config.json')), byDefault.message);
  assert.match(byDefault.message, /CONFIG_PATH=/);

  const fromEnv = configErrorOf(() => loadConfig({ cwd: dir, env: { CONFIG_PATH: 'nope.json' } }));
  assert.ok(fromEnv.message.includes(join(dir, 'nope.json')), fromEnv.message);
  assert.match(fromEnv.message, /CONFIG_PATH names a file/);

  const folder = configErrorOf(() => loadConfig({ cwd: dir, path: dir, env: {} }));
  assert.match(folder.message, /cannot read config file \(EISDIR/);
});

test('JSON syntax errors report file:line:column and the reason', async (t) => {
  const dir = await tempDir(t);
  const cases: Array<[string, RegExp]> = [
    ['{\n  "mode": "Record"\n  "http": {}\n}', /^config\.json:3:3: invalid JSON — expected ',' or '}' after property value$/],
    ['{\n  "mode": "Record",\n  "x": [1,,2]\n}', /^config\.json:3:11: invalid JSON — unexpected ","$/],
    ['{\n  // a comment\n  "mode": "Record"\n}', /^config\.json:2:3: invalid JSON — .*\(comments are not allowed in JSON\)$/],
    ['{"mode": "Record",}', /^config\.json:1:19: invalid JSON — expected double-quoted property name$/],
    ['', /^config\.json:1:1: invalid JSON — the file ends before the JSON value is complete$/],
  ];
  for (const [text, expected] of cases) {
    await writeConfig(dir, 'config.json', text);
    assert.match(configErrorOf(() => loadConfig({ cwd: dir, env: {} })).message, expected, JSON.stringify(text));
  }
  await writeConfig(dir, 'config.json', `\ufeff${JSON.stringify(minimalRecord())}`);
  assert.equal(loadConfig({ cwd: dir, env: {} }).config.mode, 'Record', 'a UTF-8 byte-order mark is ignored');
});

test('environment overrides set secrets and the log level, and are validated like file values', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', minimalRecord({ api: { token: 'file-token-value' }, peer: { host: 'b.internal' } }));
  const env = {
    QPROXY_API_TOKEN: 'env-api-token',
    QPROXY_PEER_TOKEN: 'env-peer-token',
    QPROXY_SYNC_TOKEN: 'env-sync-token',
    QPROXY_REDACTION_KEY: 'env-redaction-key',
    QPROXY_LOG_LEVEL: 'debug',
  };
  const { config } = loadConfig({ cwd: dir, env });
  assert.equal(config.api.token, 'env-api-token');
  assert.equal(config.peer?.token, 'env-peer-token');
  assert.equal(config.sync.token, 'env-sync-token');
  assert.equal(config.recording.redaction.key, 'env-redaction-key');
  assert.equal(config.log.level, 'debug');

  await writeConfig(dir, 'config.json', minimalRecord());
  const noPeer = loadConfig({ cwd: dir, env: { QPROXY_PEER_TOKEN: 'env-peer-token' } }).config;
  assert.equal(noPeer.peer, undefined, 'QPROXY_PEER_TOKEN does not invent a peer section');

  const err = configErrorOf(() => loadConfig({ cwd: dir, env: { QPROXY_LOG_LEVEL: 'loud', QPROXY_API_TOKEN: 'has a space' } }));
  const lines = err.message.split('\n');
  assert.ok(lines.includes('config.json: log.level (from QPROXY_LOG_LEVEL): got "loud" — expected one of "fatal", "error", "warn", "info", "debug", "trace"'), err.message);
  assert.ok(
    lines.includes('config.json: api.token (from QPROXY_API_TOKEN): got a value of 11 characters (not shown) — expected a token of printable ASCII characters without spaces'),
    err.message,
  );
  assert.ok(!err.message.includes('has a space'), 'secrets are never echoed');
});

test('the loaded config is deeply frozen', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', SEED_EXAMPLE);
  const { config } = loadConfig({ cwd: dir, env: {} });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.http!.limits));
  assert.ok(Object.isFrozen(config.http!.downstream));
  assert.ok(Object.isFrozen(config.recording.redaction.headers));
  assert.throws(() => {
    (config.storage as { max_body: number }).max_body = 1;
  }, TypeError);
});

test('checkConfigFile summarises the node and one line per listener', async (t) => {
  const dir = await tempDir(t);
  const seed = await writeConfig(dir, 'seed.json', SEED_EXAMPLE);
  // The seed example's TCP listener serves TLS with these files: check-config reads them.
  const pki = await makeTestPki();
  t.after(() => pki.cleanup());
  await writeConfig(dir, 'cert.pem', pki.server.cert);
  await writeConfig(dir, 'key.pem', pki.server.key);
  const { ok, summary } = checkConfigFile('seed.json', { cwd: dir, env: { QPROXY_API_TOKEN: 'api-token-from-env' } });
  assert.equal(ok, true);
  const lines = summary.split('\n');
  assert.match(lines[0]!, new RegExp(`^${seed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: OK, mode Record, node_id "`));
  assert.match(lines[0]!, /records sent to remote-host:8084 over TLS/);
  assert.deepEqual(lines.slice(1), [
    'http  127.0.0.1:8080 HTTP/1.1 → http://localhost:8081',
    'tcp   127.0.0.1:8082 TLS → localhost:8083',
    'api   127.0.0.1:8085 token required',
  ]);
  assert.ok(!summary.includes('api-token-from-env'), 'the summary never prints secrets');

  await writeConfig(dir, 'playback.json', { mode: 'Playback', sync: { token: 'sync-token-value' }, api: { port: 0 } });
  const playback = checkConfigFile(join(dir, 'playback.json'), { env: {} }).summary.split('\n');
  assert.deepEqual(playback.slice(1), ['sync  0.0.0.0:8084 plain, token required', 'api   127.0.0.1:any free port no token']);

  assert.throws(() => checkConfigFile(join(dir, 'missing.json'), { env: {} }), ConfigError);
});
