/** The `nats` config section: defaults, env overrides, path resolution and the messages of bad values. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfigFile, loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { durableName, streamPlan } from '../../src/sync/nats/options.js';
import { tempDir, writeConfig } from '../config/temp-config.js';

const record = { mode: 'Record', node_id: 'az-a-1', http: { port: 8080, downstream: 'http://localhost:8081' } };
const playback = { mode: 'Playback', node_id: 'zone.b/1' };

async function load(t: Parameters<typeof tempDir>[0], content: unknown, env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir(t);
  const path = await writeConfig(dir, 'config.json', content);
  return { ...loadConfig({ path, env }), dir };
}

async function problems(t: Parameters<typeof tempDir>[0], content: unknown): Promise<string> {
  const dir = await tempDir(t);
  const path = await writeConfig(dir, 'config.json', content);
  try {
    loadConfig({ path, env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('the config was accepted');
}

test('a minimal nats section gets every default; servers may be one string', async (t) => {
  const { config } = await load(t, { ...record, nats: { servers: 'nats-a.internal:4222' } });
  const n = config.nats!;
  assert.deepEqual(n.servers, ['nats-a.internal:4222']);
  assert.equal(n.enabled, true);
  assert.equal(n.stream, 'QPROXY');
  assert.equal(n.subject_prefix, 'qproxy');
  assert.equal(n.create_stream, true);
  assert.equal(n.stream_settings.duplicate_window, 120_000);
  assert.equal(n.stream_settings.max_age, 72 * 3_600_000);
  assert.equal(n.max_in_flight, 256);
  assert.equal(n.ack_wait, 30_000);
  assert.equal(n.tls, false);
  assert.equal(streamPlan(n).subjects.recordFilter, 'qproxy.rec.>');
});

test('the seed-style config without nats is unchanged: no nats section, peer sync as before', async (t) => {
  const { config } = await load(t, { ...record, peer: { host: 'remote-host', port: 8084, tls: true } });
  assert.equal(config.nats, undefined);
  assert.equal(config.peer?.host, 'remote-host');
});

test('Playback: durable defaults to the node id as a safe token; a group shares its name', async (t) => {
  const own = (await load(t, { ...playback, nats: { servers: ['nats://127.0.0.1:4222', 'tls://10.0.0.2:4222'] } })).config;
  assert.match(durableName(own.nats!, own.node_id), /^qproxy-zone_b_1-[0-9a-f]{8}$/);
  const grouped = (await load(t, { ...playback, nats: { servers: '127.0.0.1:4222', group: 'replayers' } })).config;
  assert.equal(durableName(grouped.nats!, grouped.node_id), 'replayers');
  const mirror = (await load(t, { ...playback, nats: { servers: '127.0.0.1:4222', mirror: { domain: 'A' } } })).config;
  assert.deepEqual(streamPlan(mirror.nats!).mirror, { stream: 'QPROXY', domain: 'A' });
});

test('secrets come from QPROXY_NATS_TOKEN / QPROXY_NATS_PASSWORD; creds and TLS paths resolve against the file', async (t) => {
  const a = await load(t, { ...record, nats: { servers: '127.0.0.1:4222' } }, { QPROXY_NATS_TOKEN: 's3cret' });
  assert.equal(a.config.nats?.token, 's3cret');
  const b = await load(t, { ...record, nats: { servers: '127.0.0.1:4222', user: 'qp' } }, { QPROXY_NATS_PASSWORD: 'pw' });
  assert.equal(b.config.nats?.password, 'pw');
  const c = await load(t, { ...record, nats: { servers: '127.0.0.1:4222', creds: 'qp.creds', tls: { ca: 'certs/ca.pem' } } });
  assert.equal(c.config.nats?.creds, join(c.dir, 'qp.creds'));
  assert.deepEqual(c.config.nats?.tls, { ca: join(c.dir, 'certs/ca.pem') });
  // Without a nats section the variables create none (its presence selects the backend).
  const d = await load(t, { ...record }, { QPROXY_NATS_TOKEN: 's3cret' });
  assert.equal(d.config.nats, undefined);
});

test('bad values and combinations are refused with messages that name the field', async (t) => {
  const both = await problems(t, { ...record, peer: { host: 'b' }, nats: { servers: '127.0.0.1:4222' } });
  assert.match(both, /nats: and peer are both set/);
  const scheme = await problems(t, { ...record, nats: { servers: ['http://x:4222'] } });
  assert.match(scheme, /nats\.servers\[0\].*scheme http is not nats:\/\/ or tls:\/\//);
  const creds = await problems(t, { ...record, nats: { servers: 'nats://u:p@x:4222' } });
  assert.match(creds, /credentials in the URL/);
  const missing = await problems(t, { ...record, nats: {} });
  assert.match(missing, /nats\.servers/);
  const name = await problems(t, { ...record, nats: { servers: 'x:4222', stream: 'a.b' } });
  assert.match(name, /nats\.stream.*expected a stream name/);
  const mirror = await problems(t, { ...record, nats: { servers: 'x:4222', mirror: { domain: 'A' } } });
  assert.match(mirror, /nats\.mirror: is for Playback nodes/);
  const durable = await problems(t, { ...playback, nats: { servers: 'x:4222', durable: 'd', group: 'g' } });
  assert.match(durable, /nats\.group: and nats\.durable are both set/);
  const auth = await problems(t, { ...record, nats: { servers: 'x:4222', token: 't', creds: 'c.creds' } });
  assert.match(auth, /choose one way to authenticate/);
  const pass = await problems(t, { ...record, nats: { servers: 'x:4222', user: 'u' } });
  assert.match(pass, /nats\.password/);
  const window = await problems(t, { ...record, nats: { servers: 'x:4222', publish_timeout: '2m', stream_settings: { duplicate_window: '2m' } } });
  assert.match(window, /duplicate_window: is shorter than twice nats\.publish_timeout/);
  const unknown = await problems(t, { ...record, nats: { servers: 'x:4222', strem: 'X' } });
  assert.match(unknown, /strem/);
});

test('check-config describes the NATS backend; a Playback node with nats opens no sync listener (no port clash)', async (t) => {
  const dir = await tempDir(t);
  const path = await writeConfig(dir, 'p.json', { ...playback, api: { port: 8084 }, nats: { servers: '127.0.0.1:4222', group: 'replayers' } });
  const { summary } = checkConfigFile(path, { env: {} });
  assert.match(summary, /nats {2}consumes \(group "replayers"\) from stream "QPROXY" on 127\.0\.0\.1:4222/);
  assert.doesNotMatch(summary, /^sync /m);
  const rpath = await writeConfig(dir, 'r.json', { ...record, nats: { servers: '127.0.0.1:4222' } });
  assert.match(checkConfigFile(rpath, { env: {} }).summary, /records sent through NATS JetStream/);
});

test('Playback: sources gather several zone A streams; each defaults to nats.stream; bad lists are refused', async (t) => {
  const two = { servers: '127.0.0.1:4222', sources: [{ domain: 'A1' }, { stream: 'SITE2', domain: 'A2' }] };
  const { config } = await load(t, { ...playback, nats: two });
  assert.deepEqual(streamPlan(config.nats!).sources, [
    { stream: 'QPROXY', domain: 'A1' },
    { stream: 'SITE2', domain: 'A2' },
  ]);
  const dir = await tempDir(t);
  const path = await writeConfig(dir, 'p.json', { ...playback, nats: two });
  assert.match(checkConfigFile(path, { env: {} }).summary, /stream "QPROXY" on 127\.0\.0\.1:4222 \(sources: "QPROXY" in domain "A1", "SITE2" in domain "A2"\)/);

  const onRecord = await problems(t, { ...record, nats: { servers: 'x:4222', sources: [{ domain: 'A' }] } });
  assert.match(onRecord, /nats\.sources: is for Playback nodes/);
  const withMirror = await problems(t, { ...playback, nats: { servers: 'x:4222', mirror: { domain: 'A' }, sources: [{ domain: 'A2' }] } });
  assert.match(withMirror, /nats\.sources: and nats\.mirror are both set/);
  const empty = await problems(t, { ...playback, nats: { servers: 'x:4222', sources: [] } });
  assert.match(empty, /nats\.sources.*at least one/);
  const twice = await problems(t, { ...playback, nats: { servers: 'x:4222', sources: [{ domain: 'A' }, { domain: 'A' }] } });
  assert.match(twice, /nats\.sources\[1\].*twice/);
  const noDomain = await problems(t, { ...playback, nats: { servers: 'x:4222', sources: [{ stream: 'S' }] } });
  assert.match(noDomain, /nats\.sources\[0\]\.domain/);
});
