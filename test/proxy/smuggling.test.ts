import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, startRawBackend } from '../helpers/backend.js';
import type { Echo, EchoBackend, RawBackend } from '../helpers/backend.js';
import { headerValues, rawExchange, rawStatus, startProxy, waitFor } from './harness.js';
import type { ProxyHarness } from './harness.js';

/**
 * reliability.md §1.3: every request-smuggling vector of the differential table is sent raw on a
 * fresh connection; QProxy must answer 400/431 (501 allowed for unknown codings), close the
 * connection, count the refusal and forward nothing — not even a valid request that follows on the
 * same connection.
 */

const CANARY = 'GET /canary HTTP/1.1\r\nHost: canary\r\n\r\n';

const many = (n: number): string => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');

const VECTORS: { name: string; bytes: string; status: number[]; reason: string }[] = [
  { name: 'Content-Length with Transfer-Encoding', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'two Content-Length, different', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', status: [400], reason: 'bad_request' },
  { name: 'two Content-Length, same', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd', status: [400], reason: 'bad_request' },
  { name: 'Content-Length list "2, 2"', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nab', status: [400], reason: 'bad_request' },
  { name: 'Content-Length "+2"', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nab', status: [400], reason: 'bad_request' },
  { name: 'Content-Length "-1"', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'TE xchunked', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', status: [400, 501], reason: 'bad_request' },
  { name: 'TE chunked, identity (chunked not last)', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'TE gzip only', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc', status: [400, 501], reason: 'bad_request' },
  { name: 'TE quoted', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n', status: [400, 501], reason: 'bad_request' },
  { name: 'TE with VT before the value', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'TE value on an obs-fold line', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'space before the colon', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'NUL in a header value', bytes: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'bare CR in a header value', bytes: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'bare LF line endings', bytes: 'GET / HTTP/1.1\nHost: a\n\n', status: [400], reason: 'bad_request' },
  { name: 'two Host headers', bytes: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', status: [400], reason: 'duplicate_host' },
  { name: 'no Host in HTTP/1.1', bytes: 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n', status: [400], reason: 'missing_host' },
  { name: 'HTTP/1.0 with Transfer-Encoding', bytes: 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', status: [400], reason: 'http10_transfer_encoding' },
  { name: 'chunk size overflow', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'bare LF in a chunk extension', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'missing CRLF after chunk data', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: 'HTTP/2 preface on the HTTP/1 port', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: [400], reason: 'bad_request' },
  { name: '20 KiB header', bytes: `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, status: [431], reason: 'header_overflow' },
  { name: '101 header lines (limit 100)', bytes: `GET / HTTP/1.1\r\nHost: a\r\n${many(100)}\r\n`, status: [431], reason: 'too_many_headers' },
  { name: 'asterisk-form target on GET', bytes: 'GET * HTTP/1.1\r\nHost: a\r\n\r\n', status: [400], reason: 'bad_request' },
];

describe('request smuggling vectors', () => {
  let raw: RawBackend;
  let px: ProxyHarness;

  before(async () => {
    raw = await startRawBackend();
    px = await startProxy(raw.origin, { limits: { maxHeadersCount: 100, maxHeaderSize: 16 * 1024 } });
  });
  after(async () => {
    await px.close();
    await raw.close();
  });

  for (const v of VECTORS) {
    it(`${v.name} → ${v.status.join('/')} and nothing forwarded`, async () => {
      const rejectionsBefore = px.observer.rejections.length;
      const answer = await rawExchange(px.port, v.bytes + CANARY);
      const status = rawStatus(answer);
      assert.ok(v.status.includes(status), `got ${status}: ${answer.toString('latin1').slice(0, 120)}`);
      // rawExchange resolves on close: the proxy closed the connection, so the canary died with it.
      assert.equal(answer.toString('latin1').match(/^HTTP\/1\.1 /gm)?.length, 1, 'exactly one answer, the canary was not served');
      assert.equal(raw.received().length, 0, `backend received: ${raw.received().toString('latin1').slice(0, 120)}`);
      await waitFor(() => px.observer.rejections.length === rejectionsBefore + 1, 'the rejection to be counted');
      assert.equal(px.observer.rejections.at(-1), v.reason);
    });
  }

  it('a valid request on the same listener does reach the raw backend (the harness can see forwarding)', async () => {
    const answer = await rawExchange(px.port, 'GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.equal(rawStatus(answer), 200);
    assert.match(raw.received().toString('latin1'), /^GET \/ok HTTP\/1\.1\r\n/);
  });

  it('records refusals found after parsing with their error code and no downstream', async () => {
    await rawExchange(px.port, 'GET /dup HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/dup'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/dup')!;
    assert.equal(d.status, 400);
    assert.equal(d.downstream, null);
    assert.equal(d.response, null);
    assert.equal(d.error?.code, 'QP_ERR_BAD_REQUEST');
    assert.deepEqual(headerValues(d.request.headers, 'host'), ['a', 'b']);
  });
});

describe('request body limits and Expect: 100-continue', () => {
  let backend: EchoBackend;
  let px: ProxyHarness;
  const max = 64 * 1024;

  before(async () => {
    backend = await startEchoBackend();
    px = await startProxy(backend.origin, { limits: { maxBodySize: max } });
  });
  after(async () => {
    await px.close();
    await backend.close();
  });

  it('answers 413 from Content-Length without forwarding', async () => {
    const answer = await rawExchange(px.port, `POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${max + 1}\r\n\r\n${'x'.repeat(1000)}`);
    assert.equal(rawStatus(answer), 413);
    assert.match(answer.toString(), /"code":"QP_ERR_BODY_TOO_LARGE"/);
    assert.equal(backend.paths.includes('/big'), false);
    assert.equal(px.observer.rejections.at(-1), 'body_too_large');
  });

  it('answers 413 when a chunked body grows past the limit and aborts the downstream request', async () => {
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: px.port, method: 'POST', path: '/grow', agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      let sent = 0;
      const pump = (): void => {
        // Keep sending until the proxy answers (the answer arrives before the body is complete).
        while (sent < max * 4) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
      };
      pump();
    });
    assert.equal(result.status, 413);
    assert.match(result.body, /QP_ERR_BODY_TOO_LARGE/);
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/grow'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/grow')!;
    assert.equal(d.status, 413);
    assert.equal(d.error?.code, 'QP_ERR_BODY_TOO_LARGE');
    assert.ok(d.request.body.size > max);
  });

  it('answers 413 to Expect: 100-continue over the limit before any body is sent', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: px.port });
      let text = '';
      socket.on('connect', () => socket.write(`PUT /expect-big HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: ${max * 10}\r\n\r\n`));
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 413 /, 'a final status, no 100 Continue first');
    assert.doesNotMatch(answer, /100 Continue/);
    assert.equal(backend.paths.includes('/expect-big'), false);
  });

  it('sends 100 Continue, then forwards the body without Expect', async () => {
    const { status, echo, gotContinue } = await new Promise<{ status: number; echo: Echo; gotContinue: boolean }>((resolve, reject) => {
      let gotContinue = false;
      const req = httpRequest(
        { host: '127.0.0.1', port: px.port, method: 'PUT', path: '/expect-ok', agent: false, headers: { Expect: '100-continue', 'Content-Length': 5 } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, echo: JSON.parse(body) as Echo, gotContinue }));
        },
      );
      req.on('continue', () => {
        gotContinue = true;
        req.end('hello');
      });
      req.on('error', reject);
    });
    assert.equal(gotContinue, true);
    assert.equal(status, 200);
    assert.equal(echo.body, 'hello');
    assert.deepEqual(headerValues(echo.headers, 'expect'), []);
  });

  it('answers 417 to an Expect value it does not know', async () => {
    const answer = await rawExchange(px.port, 'GET /x HTTP/1.1\r\nHost: a\r\nExpect: teleport\r\n\r\n');
    assert.equal(rawStatus(answer), 417);
    assert.equal(backend.paths.includes('/x'), false);
  });
});

describe('slow clients', () => {
  let raw: RawBackend;
  before(async () => {
    raw = await startRawBackend();
  });
  after(() => raw.close());

  it('answers 408 and closes when the request head does not arrive within headerReadMs', async () => {
    const px = await startProxy(raw.origin, { timeouts: { headerReadMs: 300, requestMs: 5_000 } });
    try {
      // The head never ends: rawExchange resolves only when the proxy gives up and closes.
      const answer = await rawExchange(px.port, 'GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: ');
      assert.equal(rawStatus(answer), 408);
      assert.deepEqual(px.observer.rejections, ['request_timeout']);
      assert.equal(raw.received().length, 0);
    } finally {
      await px.close();
    }
  });
});
