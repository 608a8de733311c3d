import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { importHar, parseHarText } from '../../src/har/import.js';
import { uuidv7Time } from '../../src/core/uuidv7.js';
import { fixtureText, importFixture } from './har-helpers.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('HAR import of files shaped like real tools write them', () => {
  test('Chrome DevTools: pseudo-headers and _initiator junk dropped, h2 versions, gzip content encoded again, status 0 → failed record', () => {
    const [items, order, beacon] = importFixture('chrome.har');
    assert.ok(items && order && beacon);
    assert.equal(items.request.method, 'GET');
    assert.equal(items.request.url, '/api/items?page=2&sort=price');
    assert.equal(items.request.http_version, '2.0');
    assert.deepEqual(
      items.request.headers.map(([n]) => n),
      ['accept', 'accept-encoding', 'cookie', 'user-agent'],
      'pseudo-headers are not header fields',
    );
    assert.deepEqual(items.tls, { sni: 'shop.example.com', alpn: 'h2', version: null });
    assert.equal(items.downstream, 'https://shop.example.com');
    assert.equal(items.started_at, Date.parse('2024-05-01T10:00:00.120Z'));
    assert.equal(items.duration_ms, 84.25);
    assert.deepEqual(items.timings, { request_end: 1.5, response_start: 81.55, response_end: 84.25 });
    assert.equal(items.node_id, 'har-import');
    assert.match(items.id, UUIDV7);
    assert.equal(uuidv7Time(items.id), items.started_at, 'the id carries the entry start as its time');
    // HAR content is decoded; the record keeps wire bytes, so the gzip named by the header is applied again.
    const res = items.response!;
    assert.equal(res.status, 200);
    assert.equal(gunzipSync(res.body.data).toString(), '{"items":[{"id":7,"price":12}],"page":2}');
    assert.equal(res.body.size, res.body.data.length);
    assert.equal(res.body.truncated, false);

    assert.equal(order.request.body.data.toString(), '{"item":7,"qty":2}\n');
    assert.equal(order.request.http_version, '2.0', '"h2" is HTTP/2');
    assert.equal(order.response?.status, 201);
    assert.equal(order.response?.body.data.toString(), '{"id":55}\n');

    assert.equal(beacon.response, null);
    assert.equal(beacon.status, null);
    assert.deepEqual(beacon.error, { code: 'QP_ERR_HAR_NO_RESPONSE', message: 'net::ERR_CONNECTION_REFUSED' });
    assert.equal(beacon.request.http_version, '1.1', 'an empty httpVersion reads as 1.1');
  });

  test('Firefox: offsets in startedDateTime, Host kept, query taken from the URL, UTF-8 text, empty 304', () => {
    const [search, css] = importFixture('firefox.har');
    assert.ok(search && css);
    assert.equal(search.started_at, Date.parse('2024-05-01T10:00:00.250Z'));
    assert.equal(search.request.url, '/search?q=green%20tea&lang=en', 'the URL query is kept as written');
    assert.deepEqual(search.request.headers[0], ['Host', 'localhost:8080']);
    assert.equal(search.tls, null);
    assert.equal(search.response?.body.data.toString('utf8'), '<html><body>Grüner Tee – 3 results</body></html>');
    assert.deepEqual(search.response?.headers[2], ['Set-Cookie', 'visited=1; Path=/; HttpOnly']);
    assert.deepEqual(search.timings, { request_end: 1, response_start: 16, response_end: 18 });
    assert.equal(css.response?.status, 304);
    assert.equal(css.response?.body.data.length, 0);
    assert.equal(css.response?.status_message, 'Not Modified');
  });

  test('mitmproxy: base64 content decoded, microsecond start times, https from the URL', () => {
    const [login, logo] = importFixture('mitmproxy.har');
    assert.ok(login && logo);
    assert.equal(login.started_at, Date.parse('2024-05-01T10:00:05.123Z'));
    assert.equal(login.request.body.data.toString(), '{"user":"ann","roles":["admin"]}');
    assert.equal(login.response?.body.data.toString(), '{"user":"ann","roles":["admin"]}');
    assert.deepEqual(login.timings, { request_end: 1.433, response_start: 41.541, response_end: 41.872 });
    assert.deepEqual(logo.response?.body.data, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
    assert.equal(logo.downstream, 'https://cdn.internal');
    assert.deepEqual(logo.tls, { sni: 'cdn.internal', alpn: null, version: null });
  });

  test('Charles: missing optional fields are accepted; queryString builds the query of a URL without one', () => {
    const [report, del] = importFixture('charles.har');
    assert.ok(report && del);
    assert.equal(report.request.url, '/report?from=2024-04-01&who=a%26b%20c');
    assert.equal(report.downstream, 'https://legacy.example.org:8443');
    assert.equal(report.response?.body.data.toString(), '3 rows\r\n\u0000');
    assert.deepEqual(report.timings, { request_end: null, response_start: null, response_end: 25 });
    assert.equal(del.request.method, 'DELETE');
    assert.deepEqual(del.request.headers, []);
    assert.equal(del.duration_ms, 0);
    assert.equal(del.response?.status, 204);
    assert.equal(del.response?.body.data.length, 0);
  });

  test('non-UTF-8 bytes in base64 bodies (response encoding and the postData _encoding extension) arrive byte for byte', () => {
    const [put] = importFixture('non-utf8.har');
    assert.deepEqual(put?.request.body.data, Buffer.from([0xc3, 0x28, 0x61, 0x62]));
    assert.deepEqual(put?.response?.body.data, Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]));
  });

  test('form params become an urlencoded body (Content-Type from mimeType) or multipart with the given boundary', () => {
    const [signup, upload] = importFixture('form.har');
    assert.equal(signup?.request.body.data.toString(), 'name=Ann+Lee&email=ann%2Bx%40example.com&note=50%25+%26+more');
    assert.deepEqual(signup?.request.headers, [['Host', 'forms.local'], ['Content-Type', 'application/x-www-form-urlencoded']]);
    assert.equal(
      upload?.request.body.data.toString(),
      '------qp7\r\nContent-Disposition: form-data; name="title"\r\n\r\nreport\r\n' +
        '------qp7\r\nContent-Disposition: form-data; name="file"; filename="r.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n------qp7--\r\n',
    );
    assert.equal(upload?.request.headers.length, 2, 'a Content-Type already present is not added again');
  });

  test('ids are deterministic per file and distinct per entry; node_id can be chosen', () => {
    const text = fixtureText('chrome.har');
    const a = importHar(parseHarText(text));
    const b = importHar(parseHarText(text), { nodeId: 'browser-ann' });
    assert.deepEqual(a.map((r) => r.id), b.map((r) => r.id));
    assert.equal(new Set(a.map((r) => r.id)).size, a.length);
    assert.ok(b.every((r) => r.node_id === 'browser-ann'));
    const twin = JSON.parse(text) as { log: { entries: unknown[] } };
    twin.log.entries.push(twin.log.entries[0]);
    const twins = importHar(twin);
    assert.notEqual(twins[3]!.id, twins[0]!.id, 'the same entry twice in a file is two exchanges');
  });
});
