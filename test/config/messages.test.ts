import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { closest, editDistance, formatIssues, pathText } from '../../src/config/issues.js';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { minimalRecord, tempDir, writeConfig } from './temp-config.js';

/** Writes `content` as config.json in a temp folder and returns the error lines loading it gives. */
async function errorLines(t: TestContext, content: unknown): Promise<string[]> {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', content);
  try {
    loadConfig({ cwd: dir, env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('expected the config to be rejected');
}

async function assertOnlyError(t: TestContext, content: unknown, line: string): Promise<void> {
  assert.deepEqual(await errorLines(t, content), [line]);
}

test('an unknown key is an error that suggests the closest known key', async (t) => {
  await assertOnlyError(
    t,
    { mode: 'Record', http: { port: 8080, downstream: 'http://127.0.0.1:8081', dowstream: 'x' } },
    'config.json: http.dowstream: unknown key — did you mean "downstream"?',
  );
  await assertOnlyError(t, minimalRecord({ storage: { max_szie: '1GiB' } }), 'config.json: storage.max_szie: unknown key — did you mean "max_size"?');
  await assertOnlyError(t, minimalRecord({ Mode: 'Record' }), 'config.json: Mode: unknown key — did you mean "mode"?');
  await assertOnlyError(
    t,
    minimalRecord({ api: { port: 8085, flavour: 'vanilla' } }),
    'config.json: api.flavour: unknown key — expected one of: host, port, token, allowed_hosts, ui',
  );
  await assertOnlyError(
    t,
    minimalRecord({ recording: { redaction: { header: ['x-a'] } } }),
    'config.json: recording.redaction.header: unknown key — did you mean "headers"?',
  );
});

test('a top-level "$schema" key is allowed for editors', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', minimalRecord({ $schema: './config.schema.json' }));
  assert.equal(loadConfig({ cwd: dir, env: {} }).config.mode, 'Record');
});

test('wrong types name the path, the value and what was expected', async (t) => {
  await assertOnlyError(t, minimalRecord({ http: { port: '80a', downstream: 'http://127.0.0.1:8081' } }), 'config.json: http.port: got "80a" — expected an integer port 1-65535 (or 0 for any free port)');
  await assertOnlyError(t, minimalRecord({ recording: { enabled: 'yes' } }), 'config.json: recording.enabled: got "yes" — expected true or false');
  await assertOnlyError(t, minimalRecord({ storage: [] }), 'config.json: storage: got a list — expected an object { … }');
  await assertOnlyError(t, minimalRecord({ storage: { max_size: '10XB' } }), 'config.json: storage.max_size: got "10XB" — expected a size like "10GiB" or a number of bytes');
  await assertOnlyError(t, minimalRecord({ storage: { retention: '3 days' } }), 'config.json: storage.retention: got "3 days" — expected a duration like "72h" or a number of milliseconds');
  await assertOnlyError(t, { mode: 'Recrod', tcp: { port: 1, downstream: ['a:1'] } }, 'config.json: mode: got "Recrod" — expected "Record" or "Playback" (did you mean "Record"?)');
  await assertOnlyError(t, { http: { port: 1, downstream: 'http://a' } }, 'config.json: mode: missing — expected "Record" or "Playback"');
  await assertOnlyError(t, '[]', 'config.json: got a list — expected an object { … }');
});

test('bad downstream URLs: scheme, credentials, not a URL — each item named by index', async (t) => {
  const lines = await errorLines(t, minimalRecord({ http: { port: 8080, downstream: ['http://ok:1', 'ftp://files', 'http://u:p@h', 'nonsense'] } }));
  const expected = 'expected an http:// or https:// URL like "http://localhost:8081"';
  assert.deepEqual(lines, [
    `config.json: http.downstream[1]: got "ftp://files" — ${expected} (the scheme "ftp" is not http or https)`,
    `config.json: http.downstream[2]: got "http://u:p@h" — ${expected} (it contains credentials)`,
    `config.json: http.downstream[3]: got "nonsense" — ${expected} (it is not a URL)`,
  ]);
  await assertOnlyError(
    t,
    minimalRecord({ http: { port: 8080, downstream: 'ws://x' } }),
    `config.json: http.downstream: got "ws://x" — ${expected} (the scheme "ws" is not http or https)`,
  );
  await assertOnlyError(t, minimalRecord({ http: { port: 8080, downstream: [] } }), 'config.json: http.downstream: got a list — expected an http:// or https:// URL, or a non-empty list of them');
});

test('bad ports, CIDRs, host:port pairs, regexes and JSON paths', async (t) => {
  await assertOnlyError(t, minimalRecord({ api: { port: 70000 } }), 'config.json: api.port: got 70000 — expected an integer port 1-65535 (or 0 for any free port)');
  await assertOnlyError(t, minimalRecord({ peer: { host: 'b', port: 0 } }), 'config.json: peer.port: got 0 — expected an integer port 1-65535');
  assert.deepEqual(
    await errorLines(t, minimalRecord({ http: { port: 8080, downstream: 'http://a:1', trusted_proxies: ['10.0.0.0/8', '10.0.0.0/33', 'fd00::/8', 'proxy.local'] } })),
    [
      'config.json: http.trusted_proxies[1]: got "10.0.0.0/33" — expected an IP address or CIDR range like "10.0.0.0/8"',
      'config.json: http.trusted_proxies[3]: got "proxy.local" — expected an IP address or CIDR range like "10.0.0.0/8"',
    ],
  );
  assert.deepEqual(await errorLines(t, { mode: 'Record', tcp: { port: 8082, downstream: ['db:5432', 'localhost', '::1:6379', '[::1]:6379', 'x:99999'] } }), [
    'config.json: tcp.downstream[1]: got "localhost" — expected "host:port" like "localhost:8083" or "[::1]:6379"',
    'config.json: tcp.downstream[2]: got "::1:6379" — expected "host:port" like "localhost:8083" or "[::1]:6379"',
    'config.json: tcp.downstream[4]: got "x:99999" — expected "host:port" like "localhost:8083" or "[::1]:6379"',
  ]);
  await assertOnlyError(
    t,
    minimalRecord({ recording: { redaction: { body_patterns: ['ok', '(unclosed'] } } }),
    'config.json: recording.redaction.body_patterns[1]: got "(unclosed" — expected a valid JavaScript regular expression (Invalid regular expression: /(unclosed/g: Unterminated group)',
  );
  await assertOnlyError(
    t,
    minimalRecord({ recording: { redaction: { json_paths: ['$.password', 'password'] } } }),
    'config.json: recording.redaction.json_paths[1]: got "password" — expected a JSON path like "$.password", "$..token" or "$.items[*].card"',
  );
});

test('every problem is reported together, one per line', async (t) => {
  const lines = await errorLines(t, {
    mode: 'Record',
    http: { host: '127.0.0.1', port: 'eighty', dowstream: 'x' },
    storage: { max_size: '10XB', flush_interval: '1m' },
    log: { level: 'verbose' },
  });
  assert.deepEqual(lines, [
    'config.json: http.port: got "eighty" — expected an integer port 1-65535 (or 0 for any free port)',
    'config.json: http.dowstream: unknown key — did you mean "downstream"?',
    'config.json: storage.max_size: got "10XB" — expected a size like "10GiB" or a number of bytes',
    'config.json: storage.flush_interval: got "1m" — expected a duration of at most "10s"',
    'config.json: log.level: got "verbose" — expected one of "fatal", "error", "warn", "info", "debug", "trace"',
    'config.json: http.downstream: missing — expected an http:// or https:// URL, or a list of them: a Record node forwards requests there',
  ]);
});

test('cross-field rules: Record needs a listener, peer TLS files need TLS, cert needs key, ports must not clash', async (t) => {
  await assertOnlyError(
    t,
    { mode: 'Record' },
    'config.json: mode: "Record" needs an "http", "tcp" or "forward" section to receive the traffic it records — add one with a port (and a downstream for http/tcp)',
  );
  await assertOnlyError(
    t,
    { mode: 'Record', tcp: { port: 8082 } },
    'config.json: tcp.downstream: missing — expected a list of "host:port" strings like ["localhost:8083"]: a Record node forwards connections there',
  );
  assert.deepEqual(await errorLines(t, minimalRecord({ peer: { host: 'b.internal', ca: 'ca.pem', cert: 'c.pem' } })), [
    'config.json: peer.key: missing — expected a path to the private key for peer.cert (mutual TLS needs both)',
    'config.json: peer.tls: is false, but peer.ca, peer.cert only apply over TLS — set "tls": true or remove them',
  ]);
  await assertOnlyError(
    t,
    minimalRecord({ api: { port: 8080 } }),
    'config.json: api.port: 8080 is also used by http (127.0.0.1:8080) — give each listener its own port',
  );
  await assertOnlyError(
    t,
    { mode: 'Playback', http: { host: '0.0.0.0', port: 8084 } },
    'config.json: sync.port: 8084 is also used by http (0.0.0.0:8084) — give each listener its own port',
  );
  await assertOnlyError(
    t,
    minimalRecord({ http: { port: 8080, downstream: 'http://a:1', tls: { tls_cert: 'c.pem' } } }),
    'config.json: http.tls.tls_key: missing — expected a path to a PEM private key file',
  );
});

test('valid edge cases are accepted', async (t) => {
  const dir = await tempDir(t);
  await writeConfig(dir, 'config.json', {
    mode: 'Playback',
    http: { host: '::', port: 0 },
    tcp: { host: 'localhost', port: 0, downstream: '[::1]:6379' },
    api: { host: '127.0.0.1', port: 8080 },
    sync: { host: '10.0.0.1', port: 8080 },
  });
  const { config } = loadConfig({ cwd: dir, env: {} });
  assert.deepEqual(config.http?.downstream, [], 'a Playback node may serve without a downstream (read as an empty list)');
  assert.deepEqual(config.tcp?.downstream, ['[::1]:6379'], 'a single host:port is accepted as a list of one');
});

test('formatIssues works on any issue list; helpers behave', () => {
  const input = { api: { token: 'a secret value', port: 'x' } };
  const r = configSchema.safeParse({ mode: 'Playback', ...input });
  assert.equal(r.success, false);
  const lines = formatIssues(r.error.issues, { input, sources: new Map([['api.port', 'SOME_VAR']]) });
  assert.deepEqual(lines, [
    'api.port (from SOME_VAR): got "x" — expected an integer port 1-65535 (or 0 for any free port)',
    'api.token: got a value of 14 characters (not shown) — expected a token of printable ASCII characters without spaces',
  ]);
  assert.equal(pathText(['http', 'downstream', 2]), 'http.downstream[2]');
  assert.equal(pathText(['a b']), '["a b"]');
  assert.equal(editDistance('dowstream', 'downstream'), 1);
  assert.equal(editDistance('prot', 'port'), 1);
  assert.equal(closest('prot', ['host', 'port']), 'port');
  assert.equal(closest('zzzz', ['host', 'port']), undefined);
});
