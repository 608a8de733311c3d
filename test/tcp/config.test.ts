import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createTcpProxy } from '../../src/node/tcp.js';
import type { TcpRecord } from '../../src/recording/model.js';
import { Store } from '../../src/store/index.js';
import { makeTestPki } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';
import { closed, connectClient, connectTlsClient, readBytes, startEcho, waitFor } from './helpers.js';

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});
after(() => pki.cleanup());

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-tcp-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function load(t: TestContext, config: unknown) {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return { dir, ...loadConfig({ cwd: dir, env: {} }) };
}

function errorLines(t: TestContext, config: unknown): Promise<string[]> {
  return load(t, config).then(
    () => assert.fail('the config was accepted'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      return err.message.split('\n');
    },
  );
}

test('tcp defaults: downstream TLS off, timeouts, limits, recording segments and balancing', async (t) => {
  const { config } = await load(t, { mode: 'Record', tcp: { port: 8082, downstream: 'localhost:8083' } });
  assert.deepEqual(config.tcp, {
    host: '127.0.0.1',
    port: 8082,
    downstream: ['localhost:8083'],
    protocol: 'raw',
    downstream_tls: { enabled: false, reject_unauthorized: true },
    timeouts: { connect: 3_000, idle: 300_000 },
    limits: { max_connections: 4096 },
    recording: { max_session_bytes: 16 * 1024 * 1024, segment_interval: 1_000, segment_bytes: 256 * 1024, on_overload: 'drop' },
    balancing: {
      policy: 'round_robin',
      resolve_interval: 30_000,
      health_check: { enabled: false, interval: 5_000, timeout: 2_000, rise: 2, fall: 3 },
      passive: { failures: 5, ejection: 30_000, max_ejection: 300_000 },
    },
  });
});

test('tcp and balancing settings are validated with messages that name the field', async (t) => {
  const lines = await errorLines(t, {
    mode: 'Record',
    tcp: {
      port: 8082,
      downstream: ['db:5432'],
      downstream_tls: { ca: 'ca.pem' },
      recording: { segment_interval: '5ms', max_session_bytes: '16XB' },
      balancing: { policy: 'random', passive: { ejection: '10m', max_ejection: '1m' }, health_check: { path: '/healthz' } },
    },
    http: { port: 8080, downstream: 'http://a:1', balancing: { health_check: { path: 'healthz', rise: 0 } } },
  });
  assert.deepEqual(lines.sort(), [
    'config.json: http.balancing.health_check.path: got "healthz" — expected a request path starting with "/", like "/healthz"',
    'config.json: http.balancing.health_check.rise: got 0 — expected a whole number from 1 to 100',
    'config.json: tcp.balancing.health_check.path: unknown key — expected one of: enabled, interval, timeout, rise, fall',
    'config.json: tcp.balancing.passive.max_ejection: is shorter than tcp.balancing.passive.ejection — the longest ejection cannot be shorter than the first; raise it or lower ejection',
    'config.json: tcp.balancing.policy: got "random" — expected one of "round_robin", "least_connections"',
    'config.json: tcp.downstream_tls.enabled: is false, but tcp.downstream_tls.ca only apply over TLS — set "enabled": true or remove them',
    'config.json: tcp.recording.max_session_bytes: got "16XB" — expected a size like "16MiB" or a number of bytes',
    'config.json: tcp.recording.segment_interval: got "5ms" — expected a duration of at least "10ms"',
  ].sort());
});

test('createTcpProxy builds a working TLS-to-TLS proxy from a config file, recording into the store', async (t) => {
  const backend = await startEcho(t, pki.server);
  const dir = await tempDir(t);
  await writeFile(join(dir, 'cert.pem'), pki.server.cert);
  await writeFile(join(dir, 'key.pem'), pki.server.key);
  await writeFile(join(dir, 'ca.pem'), pki.ca);
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      mode: 'Record',
      node_id: 'az-a-7',
      tcp: {
        port: 0,
        downstream: [`localhost:${backend.port}`],
        tls: { tls_cert: 'cert.pem', tls_key: 'key.pem' },
        downstream_tls: { enabled: true, ca: 'ca.pem' },
        recording: { segment_interval: '50ms' },
        balancing: { health_check: { enabled: true, interval: '1s' } },
      },
      storage: { path: 'data/q.db', flush_interval: '20ms' },
    }),
  );
  const { config } = loadConfig({ cwd: dir, env: {} });
  const metrics = new Metrics({ collectDefault: false });
  const store = await Store.open({
    path: config.storage.path,
    retentionMs: 0,
    maxSizeBytes: 0,
    flushIntervalMs: config.storage.flush_interval,
    synchronous: 'normal',
    queueMaxRecords: 1000,
    queueMaxBytes: 64 * 1024 * 1024,
    purgeIntervalMs: 60_000,
  });
  t.after(() => store.close());
  const { proxy, discovery } = await createTcpProxy(config, { metrics, sink: store, logger: pino({ level: 'silent' }) });
  t.after(async () => {
    await proxy.close(1_000);
    await discovery.close();
  });
  const { port } = await proxy.listen();
  assert.ok(discovery.snapshot().length >= 1, 'localhost resolved to at least one endpoint');

  const c = await connectTlsClient(port, { ca: pki.ca, servername: 'localhost' });
  c.write('through two TLS legs');
  assert.equal((await readBytes(c, 20)).toString(), 'through two TLS legs');
  c.end();
  await closed(c);
  await waitFor(() => proxy.inFlight === 0, 'the session to end');
  await store.flush();
  const [summary] = store.list({ limit: 5, protocol: 'tcp' }).records;
  assert.ok(summary);
  assert.equal(summary.node_id, 'az-a-7');
  const record = store.get(summary.id) as TcpRecord;
  assert.equal(record.downstream_tls, true);
  assert.equal(record.tls?.sni, 'localhost');
  assert.equal(record.chunks.length, 2);
  assert.deepEqual(metrics.tcpTotals(), { sessions: 1, active: 0, errors: 0 });
});

test('createTcpProxy with recording.enabled false proxies without recording', async (t) => {
  const backend = await startEcho(t);
  const { config } = await load(t, { mode: 'Record', tcp: { port: 0, downstream: backend.target }, recording: { enabled: false } });
  const offered: unknown[] = [];
  const metrics = new Metrics({ collectDefault: false });
  const { proxy, discovery } = await createTcpProxy(config, { metrics, sink: { offer: (r) => offered.push(r) > 0 }, logger: pino({ level: 'silent' }) });
  t.after(async () => {
    await proxy.close(1_000);
    await discovery.close();
  });
  const { port } = await proxy.listen();
  const c = await connectClient(port);
  c.write('x');
  await readBytes(c, 1);
  c.end();
  await closed(c);
  await waitFor(() => proxy.inFlight === 0, 'the session to end');
  assert.equal(offered.length, 0);
  assert.equal(metrics.tcpTotals().sessions, 1);
});

test('createTcpProxy refuses a config without a tcp section', async (t) => {
  const { config } = await load(t, { mode: 'Record', http: { port: 8080, downstream: 'http://a:1' } });
  await assert.rejects(
    createTcpProxy(config, { metrics: new Metrics({ collectDefault: false }), sink: { offer: () => true }, logger: pino({ level: 'silent' }) }),
    ConfigError,
  );
});
