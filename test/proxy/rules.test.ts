import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downstreamFailure } from '../../src/proxy/http/failures.js';
import { sanitizeHopByHop } from '../../src/proxy/http/hop-by-hop.js';
import { checkRequestHead, inspectRequestHead } from '../../src/proxy/http/request-head.js';
import { parseRequestTarget } from '../../src/proxy/http/target.js';
import { buildTrustList, normalizeAddress } from '../../src/proxy/http/connection-info.js';

/** The pure rules behind the proxy, checked directly (the wire tests cover them end to end). */

const limits = { maxHeaderSize: 16384, maxHeadersCount: 5, maxBodySize: 100, maxConnections: 0 };

describe('sanitizeHopByHop', () => {
  it('drops the fixed list and nominated fields, even when the nomination comes last, keeping order and case', () => {
    const out = sanitizeHopByHop(['X-Foo', '1', 'Keep-Alive', 'timeout=5', 'X-Keep', '2', 'TE', 'trailers', 'Connection', 'close, X-Foo', 'Upgrade', 'h2c']);
    assert.deepEqual(out, ['X-Keep', '2']);
  });

  it('ignores nominations of protected fields', () => {
    const out = sanitizeHopByHop(['Connection', 'Authorization, Host, Content-Length, Cookie', 'Authorization', 'Bearer t', 'Host', 'h', 'Content-Length', '0', 'Cookie', 'a=1']);
    assert.deepEqual(out, ['Authorization', 'Bearer t', 'Host', 'h', 'Content-Length', '0', 'Cookie', 'a=1']);
  });

  it('keeps Upgrade only when asked to (tunnelled handshakes)', () => {
    assert.deepEqual(sanitizeHopByHop(['Upgrade', 'websocket', 'Connection', 'Upgrade'], true), ['Upgrade', 'websocket']);
    assert.deepEqual(sanitizeHopByHop(['Upgrade', 'websocket', 'Connection', 'Upgrade'], false), []);
  });

  it('lets a tap take fields over', () => {
    const taken: string[] = [];
    const out = sanitizeHopByHop(['Host', 'a', 'X-A', 'b'], false, { take: (lower) => (lower === 'host' ? (taken.push(lower), true) : false) });
    assert.deepEqual(out, ['X-A', 'b']);
    assert.deepEqual(taken, ['host']);
  });
});

describe('parseRequestTarget', () => {
  it('keeps origin-form, dropping a fragment', () => {
    assert.deepEqual(parseRequestTarget('/a/b?c=d#frag'), { path: '/a/b?c=d', authority: null, scheme: null });
    assert.deepEqual(parseRequestTarget('//double/slash'), { path: '//double/slash', authority: null, scheme: null });
  });

  it('normalises absolute-form and keeps its authority', () => {
    assert.deepEqual(parseRequestTarget('http://Example.COM:8080/x?y=1'), { path: '/x?y=1', authority: 'example.com:8080', scheme: 'http' });
    assert.deepEqual(parseRequestTarget('https://[::1]:8443'), { path: '/', authority: '[::1]:8443', scheme: 'https' });
  });

  it('refuses what cannot be forwarded safely', () => {
    for (const bad of ['*', 'example.com:443', 'ftp://x/', 'http://user:pw@x/', '/a b', '/a\u0000', 'http:///nohost', 'http:\\\\evil/', 'http://a@b/']) {
      assert.equal(parseRequestTarget(bad), null, bad);
    }
  });
});

describe('checkRequestHead', () => {
  const check = (raw: string[], version = '1.1', h2 = false): string | null => checkRequestHead(inspectRequestHead(raw, h2), version, limits, h2);

  it('accepts an ordinary request', () => {
    assert.equal(check(['Host', 'a', 'Content-Length', '10']), null);
  });

  it('finds every refusal reason', () => {
    assert.equal(check(['Host', 'a', 'A', '1', 'B', '2', 'C', '3', 'D', '4', 'E', '5']), 'too_many_headers');
    assert.equal(check(['Host', 'a', 'host', 'b']), 'duplicate_host');
    assert.equal(check(['X', 'y']), 'missing_host');
    assert.equal(check(['X', 'y'], '1.0'), null, 'HTTP/1.0 may omit Host');
    assert.equal(check(['Host', 'a', 'Transfer-Encoding', 'chunked'], '1.0'), 'http10_transfer_encoding');
    assert.equal(check(['Host', 'a', 'Expect', 'x-teleport']), 'expectation_failed');
    assert.equal(check(['Host', 'a', 'Content-Length', '101']), 'body_too_large');
  });

  it('applies the HTTP/2 rules (RFC 9113 §8.2.2, §8.3.1)', () => {
    assert.equal(check([':method', 'GET', ':authority', 'a', 'connection', 'close'], '2.0', true), 'h2_malformed');
    assert.equal(check([':method', 'GET', ':authority', 'a', 'te', 'gzip'], '2.0', true), 'h2_malformed');
    assert.equal(check([':method', 'GET', ':authority', 'a', 'te', 'trailers'], '2.0', true), null);
    assert.equal(check([':method', 'GET', ':authority', 'a', 'host', 'b'], '2.0', true), 'duplicate_host');
    assert.equal(check([':method', 'GET', ':authority', 'a'], '2.0', true), null, 'pseudo-headers do not count as fields');
  });
});

describe('downstreamFailure', () => {
  it('maps timeouts to 504 and everything else to 502 with a stable code', () => {
    const code = (c: string): string => {
      const f = downstreamFailure(Object.assign(new Error('x'), { code: c }));
      return `${f.status} ${f.code} ${f.outcome}`;
    };
    assert.equal(code('UND_ERR_CONNECT_TIMEOUT'), '504 QP_ERR_DOWNSTREAM_TIMEOUT timeout');
    assert.equal(code('UND_ERR_HEADERS_TIMEOUT'), '504 QP_ERR_DOWNSTREAM_TIMEOUT timeout');
    assert.equal(code('UND_ERR_BODY_TIMEOUT'), '504 QP_ERR_DOWNSTREAM_TIMEOUT timeout');
    assert.equal(code('ECONNREFUSED'), '502 QP_ERR_DOWNSTREAM_CONNECT downstream_error');
    assert.equal(code('ENOTFOUND'), '502 QP_ERR_DOWNSTREAM_CONNECT downstream_error');
    assert.equal(code('ERR_TLS_CERT_ALTNAME_INVALID'), '502 QP_ERR_DOWNSTREAM_CONNECT downstream_error');
    assert.equal(code('UND_ERR_SOCKET'), '502 QP_ERR_DOWNSTREAM_RESET downstream_error');
    assert.equal(code('HPE_INVALID_CONSTANT'), '502 QP_ERR_DOWNSTREAM_PROTOCOL downstream_error');
    assert.equal(downstreamFailure('not an error').code, 'QP_ERR_DOWNSTREAM_PROTOCOL');
  });
});

describe('trusted proxies', () => {
  it('matches addresses and CIDRs of both families and folds IPv4-mapped IPv6', () => {
    const list = buildTrustList(['10.0.0.0/8', '192.168.1.7', 'fd00::/8'])!;
    assert.equal(list.check('10.1.2.3', 'ipv4'), true);
    assert.equal(list.check('192.168.1.7', 'ipv4'), true);
    assert.equal(list.check('192.168.1.8', 'ipv4'), false);
    assert.equal(list.check('fd12::1', 'ipv6'), true);
    assert.equal(normalizeAddress('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(normalizeAddress('::1'), '::1');
    assert.equal(buildTrustList([]), null);
    assert.throws(() => buildTrustList(['10.0.0.0/33']), { code: 'QP_ERR_CONFIG' });
  });
});
