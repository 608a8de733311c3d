import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostOfHeader, HostGuard, isLoopbackAddress, isLoopbackHost } from '../../src/api/host-guard.js';
import { parseIso8601 } from '../../src/core/iso8601.js';
import { parseRecordQuery } from '../../src/api/records-query.js';

const iso = (s: string): string | null => {
  const ms = parseIso8601(s);
  return ms === null ? null : new Date(ms).toISOString();
};

test('ISO 8601 dates and date-times, with and without offsets', () => {
  assert.equal(iso('2024-05-01'), '2024-05-01T00:00:00.000Z');
  assert.equal(iso('2024-05-01T12:30Z'), '2024-05-01T12:30:00.000Z');
  assert.equal(iso('2024-05-01T12:30:15'), '2024-05-01T12:30:15.000Z', 'no offset = UTC');
  assert.equal(iso('2024-05-01T12:30:15.123456789Z'), '2024-05-01T12:30:15.123Z');
  assert.equal(iso('2024-05-01T12:30:15,5Z'), '2024-05-01T12:30:15.500Z');
  assert.equal(iso('2024-05-01T14:00:00+02:00'), '2024-05-01T12:00:00.000Z');
  assert.equal(iso('2024-05-01T10:30:00-0130'), '2024-05-01T12:00:00.000Z');
  assert.equal(iso('2024-05-01T17:00:00+05'), '2024-05-01T12:00:00.000Z');
  assert.equal(iso('2024-05-01T14:00:00 02:00'), '2024-05-01T12:00:00.000Z', '"+" decoded as space');
  assert.equal(iso('2024-02-29'), '2024-02-29T00:00:00.000Z');
  assert.equal(iso('0050-01-01'), '0050-01-01T00:00:00.000Z', 'years below 100 are not 19xx');
});

test('impossible or non-ISO times are refused', () => {
  for (const bad of ['2023-02-29', '2024-02-30', '2024-04-31', '2024-13-01', '2024-00-10', '2024-05-01T24:00:00Z',
    '2024-05-01T12:60Z', '2024-05-01T12:00:60Z', '2024-05-01T12:00:00+24:00', '1714560000000', 'May 1, 2024',
    '2024-5-1', '2024-05-01T12', '2024-05-01 12:00:00', '', ' 2024-05-01']) {
    assert.equal(parseIso8601(bad), null, bad);
  }
});

test('record query defaults and values', () => {
  assert.deepEqual(parseRecordQuery(new URLSearchParams('')), { limit: 100 });
  assert.deepEqual(parseRecordQuery(new URLSearchParams('limit=1000&protocol=tcp&cursor=abc')), {
    limit: 1000,
    protocol: 'tcp',
    cursor: 'abc',
  });
  assert.deepEqual(parseRecordQuery(new URLSearchParams('start=2024-05-01&end=2024-05-01')), {
    limit: 100,
    start: Date.parse('2024-05-01T00:00:00Z'),
    end: Date.parse('2024-05-01T00:00:00Z'),
  });
});

test('record query errors are 400 QP_ERR_API_BAD_PARAM naming the parameter', () => {
  for (const [query, name] of [['limit=-1', 'limit'], ['limit=01x', 'limit'], ['protocol=HTTP', 'protocol'],
    [`cursor=${'c'.repeat(1025)}`, 'cursor'], ['start=now', 'start'], ['x=1', 'x']] as const) {
    assert.throws(() => parseRecordQuery(new URLSearchParams(query)), (err: unknown) => {
      const e = err as { status: number; code: string; message: string };
      assert.equal(e.status, 400);
      assert.equal(e.code, 'QP_ERR_API_BAD_PARAM');
      assert.match(e.message, new RegExp(name));
      return true;
    }, query);
  }
});

test('loopback addresses in their spellings', () => {
  for (const a of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackAddress(a), true, a);
  }
  for (const a of ['128.0.0.1', '10.0.0.1', '0.0.0.0', '::', '::2', '1::1', '::ffff:10.0.0.1', 'localhost', '127.0.0.1.nip.io']) {
    assert.equal(isLoopbackAddress(a), false, a);
  }
  assert.equal(isLoopbackHost('localhost'), true);
  assert.equal(isLoopbackHost('localhost.'), true);
  assert.equal(isLoopbackHost('localhost.evil.example'), false);
});

test('Host header parsing', () => {
  assert.equal(hostOfHeader('Example.COM:8085'), 'example.com');
  assert.equal(hostOfHeader('[::1]:80'), '::1');
  assert.equal(hostOfHeader('[::1]'), '::1');
  assert.equal(hostOfHeader('127.0.0.1'), '127.0.0.1');
  for (const bad of ['', ':80', 'a:b:c', '[::1', '[x]:80', '[::1]x', 'host:123456', 'ho st', 'host/evil']) {
    assert.equal(hostOfHeader(bad), null, bad);
  }
});

test('HostGuard accepts the bound address, and every interface address when bound to all', () => {
  const guard = new HostGuard(['api.example']);
  assert.throws(() => guard.check('192.0.2.7'), { status: 421, code: 'QP_ERR_API_HOST_NOT_ALLOWED' });
  guard.bound('192.0.2.7', '192.0.2.7');
  guard.check('192.0.2.7:8085');
  guard.check('API.example');
  assert.throws(() => guard.check(undefined), { status: 421 });

  const wildcard = new HostGuard([]);
  wildcard.bound('0.0.0.0', '0.0.0.0');
  wildcard.check('127.0.0.1');
  assert.throws(() => wildcard.check('0.0.0.0'), { status: 421 }, 'the wildcard itself is no name of the API');
});
