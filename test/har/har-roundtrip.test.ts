import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { recordsToHar } from '../../src/har/export.js';
import { importHar } from '../../src/har/import.js';
import type { HarDocument } from '../../src/har/har-types.js';
import type { HttpRecord } from '../../src/recording/model.js';
import { makeRecord } from '../api/api-helpers.js';
import { fixtureText, importFixture, viaJson } from './har-helpers.js';

const FIXTURES = ['chrome.har', 'firefox.har', 'mitmproxy.har', 'charles.har', 'non-utf8.har', 'form.har'];
const T0 = Date.parse('2024-05-01T08:00:00Z');

function toHar(records: readonly HttpRecord[]): HarDocument {
  return recordsToHar(records, { version: '9.9.9' });
}

/** Records as the proxy makes them, covering what a HAR has no field for. */
function recorded(): HttpRecord[] {
  const plain = makeRecord(T0, { reqBody: Buffer.from('{"item":1}') });
  const tls = makeRecord(T0 + 1, { resBody: gzipSync('{"hello":"world"}') });
  tls.tls = { sni: 'shop.example', alpn: 'h2', version: 'TLSv1.3' };
  tls.request.http_version = '2.0';
  tls.request.headers = [[':method', 'POST'], [':authority', 'shop.example:8443'], ['content-type', 'application/json']];
  tls.request.trailers = [['x-checksum', 'abc']];
  tls.response!.headers = [['content-type', 'application/json'], ['content-encoding', 'gzip']];
  tls.response!.trailers = [['grpc-status', '0']];
  tls.timings = { request_end: 0.123456, response_start: 0.7, response_end: 1.5 };
  tls.redacted = ['request.headers.authorization'];
  const truncated = makeRecord(T0 + 2, { reqBody: Buffer.from('a'.repeat(64)), resBody: gzipSync('x'.repeat(5000)).subarray(0, 20), truncated: true });
  truncated.response!.headers = [['content-encoding', 'gzip']];
  truncated.response!.body = { data: truncated.response!.body.data, size: 9000, truncated: true };
  const binary = makeRecord(T0 + 3, { reqBody: Buffer.from([0xc3, 0x28]), resBody: Buffer.from([0xff, 0x00, 0xfe]) });
  const brotli = makeRecord(T0 + 4, { resBody: brotliCompressSync('brotli body') });
  brotli.response!.headers = [['Content-Encoding', 'br']];
  const zstd = makeRecord(T0 + 5, { resBody: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00]) });
  zstd.response!.headers = [['content-encoding', 'zstd']];
  const failed = makeRecord(T0 + 6);
  failed.response = null;
  failed.status = 502;
  failed.error = { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'connect ECONNREFUSED 127.0.0.1:8081' };
  failed.timings = { request_end: 0.2, response_start: null, response_end: null };
  return [plain, tls, truncated, binary, brotli, zstd, failed];
}

describe('HAR round trips', () => {
  for (const name of FIXTURES) {
    test(`${name}: import → export → import yields identical records; export → import → export an equal HAR`, () => {
      const first = importFixture(name);
      const har = toHar(first);
      const second = importHar(viaJson(har));
      assert.deepEqual(second, first);
      assert.deepEqual(viaJson(toHar(second)), viaJson(har));
    });
  }

  test('recorded exchanges → HAR → records: the same records, ids, bodies, truncation, trailers and failures', () => {
    const records = recorded();
    const back = importHar(viaJson(toHar(records)));
    assert.deepEqual(back, records);
  });

  test('HAR → import → export keeps requests and responses intact (pseudo-headers aside)', () => {
    const original = JSON.parse(fixtureText('chrome.har')) as HarDocument;
    const exported = viaJson(toHar(importFixture('chrome.har'))) as HarDocument;
    for (let i = 0; i < 2; i++) {
      const was = original.log.entries[i]!;
      const now = exported.log.entries[i]!;
      assert.equal(now.request.method, was.request.method);
      assert.equal(now.request.url, was.request.url);
      assert.deepEqual(now.request.headers, was.request.headers.filter((h) => !h.name.startsWith(':')));
      assert.equal(now.request.postData?.text, was.request.postData?.text);
      assert.equal(now.response.status, was.response.status);
      assert.deepEqual(now.response.headers, was.response.headers);
      assert.equal(now.response.content.text, was.response.content.text);
      assert.equal(now.startedDateTime, was.startedDateTime);
      assert.equal(now.time, was.time);
      assert.equal(now.timings.wait, was.timings.wait);
    }
    const failed = exported.log.entries[2]!;
    assert.equal(failed.response.status, 0);
    assert.equal(failed.response._error, 'QP_ERR_HAR_NO_RESPONSE: net::ERR_CONNECTION_REFUSED');
  });

  test('export writes HAR 1.2: creator, entries sorted by start, decoded text, base64 where not UTF-8, truncation marked', () => {
    const records = recorded().reverse();
    const har = toHar(records);
    assert.equal(har.log.version, '1.2');
    assert.deepEqual(har.log.creator, { name: 'QProxy', version: '9.9.9' });
    assert.equal('_next' in har.log, false);
    const starts = har.log.entries.map((e) => e.startedDateTime);
    assert.deepEqual(starts, [...starts].sort());
    const [plain, tls, truncated, binary, brotli, zstd, failed] = har.log.entries;
    assert.equal(plain?.request.url, 'http://shop.local/orders?id=7');
    assert.deepEqual(plain?.request.queryString, [{ name: 'id', value: '7' }]);
    assert.deepEqual(plain?.request.postData, { mimeType: 'application/json', text: '{"item":1}' });
    assert.equal(plain?.serverIPAddress, '127.0.0.1');
    assert.equal(tls?.request.url, 'https://shop.example:8443/orders?id=7', 'https from tls, authority from :authority');
    assert.equal(tls?.request.httpVersion, 'HTTP/2.0');
    assert.equal(tls?.response.content.text, '{"hello":"world"}', 'content is decoded as the spec asks');
    assert.equal(tls?.response.content.size, 17);
    assert.equal(truncated?.response.content.encoding, 'base64', 'a cut gzip stream stays as wire bytes');
    assert.deepEqual(truncated?._qproxy.response_body, { size: 9000, truncated: true, encoded: true });
    assert.deepEqual(truncated?._qproxy.request_body, { size: 74, truncated: true });
    assert.match(truncated?.request.postData?.comment ?? '', /64 of 74 bytes kept/);
    assert.deepEqual(binary?.request.postData, { mimeType: 'application/json', text: Buffer.from([0xc3, 0x28]).toString('base64'), _encoding: 'base64' });
    assert.equal(binary?.response.content.text, Buffer.from([0xff, 0x00, 0xfe]).toString('base64'));
    assert.equal(binary?.response.content.encoding, 'base64');
    assert.equal(brotli?.response.content.text, 'brotli body');
    assert.equal(zstd?._qproxy.response_body?.encoded, true);
    assert.equal(failed?.response.status, 0);
    assert.equal(failed?.response._error, 'QP_ERR_DOWNSTREAM_CONNECT: connect ECONNREFUSED 127.0.0.1:8081');
    assert.deepEqual(failed?.timings, { blocked: -1, dns: -1, connect: -1, send: 0.2, wait: 1.3, receive: 0, ssl: -1 });
  });
});
