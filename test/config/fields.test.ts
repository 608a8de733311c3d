import assert from 'node:assert/strict';
import { test } from 'node:test';
import { downstreamUrlProblem, isHostName, isIpOrCidr, parseHostPort } from '../../src/config/addresses.js';
import { jsonPath } from '../../src/config/fields.js';
import { compileJsonPath } from '../../src/core/json-path.js';

test('parseHostPort: names, IPv4 and bracketed IPv6; real ports only', () => {
  assert.deepEqual(parseHostPort('localhost:8083'), { host: 'localhost', port: 8083 });
  assert.deepEqual(parseHostPort('10.0.0.5:6379'), { host: '10.0.0.5', port: 6379 });
  assert.deepEqual(parseHostPort('[::1]:6379'), { host: '::1', port: 6379 });
  assert.deepEqual(parseHostPort('db.internal.:5432'), { host: 'db.internal.', port: 5432 });
  for (const bad of ['localhost', '::1:6379', '[::1]', '[10.0.0.1]:80', 'host:0', 'host:65536', ':80', 'a b:80', 'host:80:80', '[nope]:80']) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});

test('isIpOrCidr matches what net.BlockList accepts', () => {
  for (const good of ['10.0.0.1', '::1', '10.0.0.0/8', '0.0.0.0/0', '192.168.1.0/24', 'fd00::/8', '::/0', '2001:db8::/128']) assert.ok(isIpOrCidr(good), good);
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '/8', '10.0.0/8', 'proxy.local', '10.0.0.0/8/8', '10.0.0.0/-1', '']) assert.ok(!isIpOrCidr(bad), bad);
});

test('isHostName and downstreamUrlProblem', () => {
  for (const good of ['localhost', '127.0.0.1', '::', 'api.internal', 'svc_a.ns.svc.cluster.local']) assert.ok(isHostName(good), good);
  for (const bad of ['', 'a b', '-lead', 'x'.repeat(64), 'http://x', '[::1]']) assert.ok(!isHostName(bad), bad);
  assert.equal(downstreamUrlProblem('http://localhost:8081'), undefined);
  assert.equal(downstreamUrlProblem('https://[::1]:8443/base'), undefined);
  assert.equal(downstreamUrlProblem('ftp://x'), 'the scheme "ftp" is not http or https');
  assert.equal(downstreamUrlProblem('http://x/?q=1'), 'it contains a query or fragment');
  assert.equal(downstreamUrlProblem('localhost:8081'), 'the scheme "localhost" is not http or https');
  assert.equal(downstreamUrlProblem('//x'), 'it is not a URL');
});

test('the json_paths pattern accepts exactly what the redaction engine compiles', () => {
  const schema = jsonPath();
  const accepted = ['$', '$.password', '$..token', '$.user.ssn', '$.items[*].card', '$.items[0]', "$['x-key'][0]", '$..[*]', '$.*', '$["a.b"]'];
  const rejected = ['password', '$.', '$..', '$.a..', '$[x]', '$[', "$['open]", '.a', '$.[0]'];
  for (const p of accepted) {
    assert.ok(schema.safeParse(p).success, `schema accepts ${p}`);
    assert.doesNotThrow(() => compileJsonPath(p), `engine compiles ${p}`);
  }
  for (const p of rejected) {
    assert.ok(!schema.safeParse(p).success, `schema rejects ${p}`);
    assert.throws(() => compileJsonPath(p), `engine rejects ${p}`);
  }
});
