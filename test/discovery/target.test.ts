/** Parsing downstream targets: the forms config accepts, and clear coded errors for the rest. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QProxyError } from '../../src/core/errors.js';
import { formatHostPort, parseHttpTarget, parseTcpTarget } from '../../src/discovery/index.js';

function assertBad(fn: () => unknown, input: string, mention: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof QProxyError, `expected a QProxyError for ${input}`);
    assert.equal(err.code, 'QP_ERR_BAD_TARGET');
    assert.ok(err.message.includes(JSON.stringify(input)), `message names the input: ${err.message}`);
    assert.match(err.message, mention);
    return true;
  });
}

test('parseHttpTarget accepts http and https origins with default and explicit ports', () => {
  assert.deepEqual(parseHttpTarget('http://svc.internal:8081'), { host: 'svc.internal', port: 8081, tls: false, label: 'http://svc.internal:8081' });
  assert.deepEqual(parseHttpTarget('https://10.0.0.5'), { host: '10.0.0.5', port: 443, tls: true, label: 'https://10.0.0.5' });
  assert.deepEqual(parseHttpTarget('http://localhost/'), { host: 'localhost', port: 80, tls: false, label: 'http://localhost/' });
  assert.deepEqual(parseHttpTarget('HTTPS://Svc.Example:8443'), { host: 'svc.example', port: 8443, tls: true, label: 'HTTPS://Svc.Example:8443' });
});

test('parseHttpTarget strips the brackets of IPv6 literals', () => {
  assert.deepEqual(parseHttpTarget('http://[::1]:8080'), { host: '::1', port: 8080, tls: false, label: 'http://[::1]:8080' });
  assert.equal(parseHttpTarget('https://[2001:db8::5]').port, 443);
  assert.equal(parseHttpTarget('https://[2001:db8::5]').host, '2001:db8::5');
});

test('parseHttpTarget refuses what is not a plain origin', () => {
  assertBad(() => parseHttpTarget('not a url'), 'not a url', /not a URL/);
  assertBad(() => parseHttpTarget('ftp://files.example'), 'ftp://files.example', /scheme "ftp:"/);
  assertBad(() => parseHttpTarget('svc:8081'), 'svc:8081', /scheme "svc:"/);
  assertBad(() => parseHttpTarget('http://user:pw@svc'), 'http://user:pw@svc', /credentials/);
  assertBad(() => parseHttpTarget('http://svc/api'), 'http://svc/api', /path "\/api"/);
  assertBad(() => parseHttpTarget('http://svc/?x=1'), 'http://svc/?x=1', /query/);
  assertBad(() => parseHttpTarget('http://svc:0'), 'http://svc:0', /port "0"/);
  assertBad(() => parseHttpTarget('http://svc:99999'), 'http://svc:99999', /not a URL/);
});

test('parseTcpTarget accepts host:port, IPv4 and bracketed IPv6', () => {
  assert.deepEqual(parseTcpTarget('localhost:6379'), { host: 'localhost', port: 6379, tls: false, label: 'localhost:6379' });
  assert.deepEqual(parseTcpTarget('10.0.0.5:8083'), { host: '10.0.0.5', port: 8083, tls: false, label: '10.0.0.5:8083' });
  assert.deepEqual(parseTcpTarget('[::1]:6379'), { host: '::1', port: 6379, tls: false, label: '[::1]:6379' });
  assert.equal(parseTcpTarget('[2001:db8::1]:65535').port, 65535);
  assert.equal(parseTcpTarget('redis-0.redis_svc.internal:1').host, 'redis-0.redis_svc.internal');
});

test('parseTcpTarget refuses malformed host:port strings', () => {
  assertBad(() => parseTcpTarget('localhost'), 'localhost', /expected "host:port"/);
  assertBad(() => parseTcpTarget(':80'), ':80', /host is empty/);
  assertBad(() => parseTcpTarget('host:'), 'host:', /port ""/);
  assertBad(() => parseTcpTarget('host:0'), 'host:0', /1-65535/);
  assertBad(() => parseTcpTarget('host:65536'), 'host:65536', /1-65535/);
  assertBad(() => parseTcpTarget('host:80a'), 'host:80a', /port "80a"/);
  assertBad(() => parseTcpTarget('::1:6379'), '::1:6379', /brackets/);
  assertBad(() => parseTcpTarget('[::1]'), '[::1]', /IPv6|host:port|brackets/);
  assertBad(() => parseTcpTarget('[10.0.0.1]:80'), '[10.0.0.1]:80', /not an IPv6 address/);
  assertBad(() => parseTcpTarget('a b:80'), 'a b:80', /not a valid host name/);
  assertBad(() => parseTcpTarget('http://svc:80'), 'http://svc:80', /not a URL/);
  assertBad(() => parseTcpTarget('-bad-.example:80'), '-bad-.example:80', /not a valid host name/);
});

test('formatHostPort brackets IPv6 only', () => {
  assert.equal(formatHostPort('10.0.0.5', 8081), '10.0.0.5:8081');
  assert.equal(formatHostPort('::1', 8081), '[::1]:8081');
  assert.equal(formatHostPort('svc.internal', 80), 'svc.internal:80');
});
