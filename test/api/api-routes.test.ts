import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { QProxyError } from '../../src/core/errors.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { MemoryRecords, call, makeRecord, memoryLogger, startApi } from './api-helpers.js';

const T0 = Date.parse('2024-05-01T00:00:00Z');
const MINUTE = 60_000;

function manyRecords(n: number): MemoryRecords {
  return new MemoryRecords(Array.from({ length: n }, (_, i) => makeRecord(T0 + i * MINUTE)));
}

describe('probes and status', () => {
  test('/healthz answers {"status":"ok"} as uncached JSON', async (t) => {
    const { port } = await startApi(t);
    const res = await call(port, 'GET', '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('HEAD /healthz has the headers and no body', async (t) => {
    const { port } = await startApi(t);
    const res = await call(port, 'HEAD', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.headers['content-length'], String('{"status":"ok"}'.length));
  });

  test('/readyz follows ready(): 200 while serving, 503 draining', async (t) => {
    let ready = true;
    const { port } = await startApi(t, { ready: () => ready });
    const up = await call(port, 'GET', '/readyz');
    assert.equal(up.status, 200);
    assert.deepEqual(up.json(), { status: 'ready' });
    ready = false;
    const down = await call(port, 'GET', '/readyz');
    assert.equal(down.status, 503);
    assert.deepEqual(down.json(), { status: 'draining' });
  });

  test('/api/status answers the document status() builds, freshly each time', async (t) => {
    let uptime = 1;
    const { port } = await startApi(t, { status: () => ({ mode: 'Playback', uptime_s: uptime++ }) });
    assert.deepEqual((await call(port, 'GET', '/api/status')).json(), { mode: 'Playback', uptime_s: 1 });
    assert.deepEqual((await call(port, 'GET', '/api/status')).json(), { mode: 'Playback', uptime_s: 2 });
  });

  test('/metrics serves the Prometheus text with its content type', async (t) => {
    const metrics = new Metrics({ collectDefault: false });
    metrics.http.exchange({ outcome: 'ok', status: 200, durationSec: 0.01, bytesIn: 10, bytesOut: 20 });
    const { port } = await startApi(t, { metrics });
    const res = await call(port, 'GET', '/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(res.text, /^qproxy_http_requests_total\{outcome="ok",code_class="2xx"\} 1$/m);
  });
});

describe('GET /api/records', () => {
  test('pages newest first with the default limit of 100 until next is null', async (t) => {
    const { port } = await startApi(t, { records: manyRecords(250) });
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const path: string = cursor === null ? '/api/records' : `/api/records?cursor=${encodeURIComponent(cursor)}`;
      const res = await call(port, 'GET', path);
      assert.equal(res.status, 200);
      const body = res.json() as { records: { id: string; started_at: string }[]; next: string | null };
      sizes.push(body.records.length);
      seen.push(...body.records.map((r) => r.id));
      cursor = body.next;
    } while (cursor !== null && sizes.length < 10);
    assert.deepEqual(sizes, [100, 100, 50]);
    assert.equal(new Set(seen).size, 250);
    assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first');
  });

  test('summaries carry the SPEC fields', async (t) => {
    const { port } = await startApi(t, { records: manyRecords(1) });
    const body = (await call(port, 'GET', '/api/records')).json() as { records: Record<string, unknown>[] };
    const item = body.records[0]!;
    for (const field of ['id', 'protocol', 'node_id', 'started_at', 'duration_ms', 'size_bytes', 'method', 'url', 'status']) {
      assert.ok(field in item, `summary has ${field}`);
    }
    assert.equal(item.started_at, '2024-05-01T00:00:00.000Z');
  });

  test('start, end, limit and protocol reach the store as numbers and names', async (t) => {
    const records = manyRecords(10);
    const { port } = await startApi(t, { records });
    const res = await call(
      port,
      'GET',
      '/api/records?start=2024-05-01T02:02:00%2B02:00&end=2024-05-01T00:05:00Z&limit=3&protocol=http',
    );
    assert.equal(res.status, 200);
    assert.deepEqual(records.queries.at(-1), {
      start: T0 + 2 * MINUTE,
      end: T0 + 5 * MINUTE,
      limit: 3,
      protocol: 'http',
    });
    const body = res.json() as { records: { started_at: string }[]; next: string | null };
    assert.deepEqual(
      body.records.map((r) => r.started_at),
      ['2024-05-01T00:05:00.000Z', '2024-05-01T00:04:00.000Z', '2024-05-01T00:03:00.000Z'],
    );
    assert.notEqual(body.next, null);
  });

  test('an unencoded "+" offset (decoded as a space) still means +', async (t) => {
    const records = manyRecords(1);
    const { port } = await startApi(t, { records });
    const res = await call(port, 'GET', '/api/records?start=2024-05-01T02:00:00+02:00');
    assert.equal(res.status, 200);
    assert.equal(records.queries.at(-1)?.start, T0);
  });

  const badParams: [query: string, param: string][] = [
    ['start=yesterday', 'start'],
    ['start=2024-02-30', 'start'],
    ['end=2024-05-01T25:00:00Z', 'end'],
    ['end=1714521600000', 'end'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=', 'limit'],
    ['protocol=udp', 'protocol'],
    ['cursor=', 'cursor'],
    ['from=2024-05-01', 'from'],
    ['limit=1&limit=2', 'limit'],
    ['start=2024-05-02&end=2024-05-01', 'start'],
  ];
  for (const [query, param] of badParams) {
    test(`?${query} → 400 naming ${param}`, async (t) => {
      const records = manyRecords(1);
      const { port } = await startApi(t, { records });
      const res = await call(port, 'GET', `/api/records?${query}`);
      assert.equal(res.status, 400);
      const body = res.json();
      assert.equal(body.code, 'QP_ERR_API_BAD_PARAM');
      assert.match(String(body.error), new RegExp(`\\b${param}\\b`));
      assert.equal(records.queries.length, 0, 'the store is not asked');
    });
  }

  test('a cursor the store did not issue → 400 QP_ERR_BAD_CURSOR with the store message', async (t) => {
    const { port } = await startApi(t, { records: manyRecords(1) });
    const res = await call(port, 'GET', '/api/records?cursor=bm90LWEtY3Vyc29y');
    assert.equal(res.status, 400);
    assert.equal(res.json().code, 'QP_ERR_BAD_CURSOR');
    assert.match(String(res.json().error), /cursor/);
  });
});

describe('GET and DELETE /api/records/{id}', () => {
  test('the whole record comes back with bodies as base64 plus text', async (t) => {
    const record = makeRecord(T0, { reqBody: Buffer.from('{"name":"Zoë"}'), resBody: Buffer.from([0xff, 0x00, 0x01]) });
    const { port } = await startApi(t, { records: new MemoryRecords([record]) });
    const res = await call(port, 'GET', `/api/records/${record.id}`);
    assert.equal(res.status, 200);
    const body = res.json() as {
      id: string;
      request: { method: string; headers: [string, string][]; body: Record<string, unknown> };
      response: { status: number; body: Record<string, unknown> };
      timings: unknown;
    };
    assert.equal(body.id, record.id);
    assert.equal(body.request.method, 'POST');
    assert.deepEqual(body.request.headers, [['Host', 'shop.local'], ['Content-Type', 'application/json']]);
    assert.deepEqual(body.request.body, {
      encoding: 'base64',
      data: Buffer.from('{"name":"Zoë"}').toString('base64'),
      size: Buffer.byteLength('{"name":"Zoë"}'),
      truncated: false,
      text: '{"name":"Zoë"}',
    });
    assert.deepEqual(body.response.body, { encoding: 'base64', data: '/wAB', size: 3, truncated: false });
    assert.deepEqual(body.timings, record.timings);
  });

  test('an unknown id → 404 "record <id> not found"', async (t) => {
    const { port } = await startApi(t, { records: manyRecords(1) });
    const id = '01890000-0000-7000-8000-000000000000';
    const res = await call(port, 'GET', `/api/records/${id}`);
    assert.equal(res.status, 404);
    assert.deepEqual(res.json(), { error: `record ${id} not found`, code: 'QP_ERR_API_RECORD_NOT_FOUND' });
  });

  test('an id that cannot be a record id → 404 without asking the store', async (t) => {
    const records = manyRecords(1);
    const asked: string[] = [];
    records.get = (id: string): null => {
      asked.push(id);
      return null;
    };
    const { port } = await startApi(t, { records });
    const res = await call(port, 'GET', '/api/records/%27%20OR%201%3D1');
    assert.deepEqual(asked, []);
    assert.equal(res.status, 404);
    assert.equal(res.json().code, 'QP_ERR_API_RECORD_NOT_FOUND');
  });

  test('DELETE → 204, then the record is gone (GET and DELETE → 404), and the delete is audited', async (t) => {
    const record = makeRecord(T0);
    const log = memoryLogger();
    const { port } = await startApi(t, { records: new MemoryRecords([record]), logger: log.logger });
    const del = await call(port, 'DELETE', `/api/records/${record.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assert.equal((await call(port, 'GET', `/api/records/${record.id}`)).status, 404);
    const again = await call(port, 'DELETE', `/api/records/${record.id}`);
    assert.equal(again.status, 404);
    assert.equal(again.json().code, 'QP_ERR_API_RECORD_NOT_FOUND');
    const audit = log.lines().filter((l) => l.action === 'record.delete');
    assert.deepEqual(
      audit.map((l) => [l.id, l.deleted]),
      [
        [record.id, true],
        [record.id, false],
      ],
    );
  });
});

describe('routing and errors', () => {
  test('an unknown path → 404 JSON', async (t) => {
    const { port } = await startApi(t);
    const res = await call(port, 'GET', '/api/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.json().code, 'QP_ERR_API_NOT_FOUND');
    assert.match(String(res.json().error), /nothing-here/);
  });

  test('a wrong method on a known path → 405 with Allow', async (t) => {
    const { port } = await startApi(t);
    const post = await call(port, 'POST', '/api/status');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal(post.json().code, 'QP_ERR_API_METHOD_NOT_ALLOWED');
    const del = await call(port, 'DELETE', '/api/records');
    assert.equal(del.status, 405);
    assert.equal(del.headers.allow, 'GET, HEAD, POST', 'POST imports HAR files');
    const put = await call(port, 'PUT', '/api/records/abc');
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, HEAD, DELETE');
  });

  test('a request body → 413 and the connection closes', async (t) => {
    const { port } = await startApi(t);
    const res = await call(port, 'DELETE', '/api/records/abc', { 'Content-Length': '0' });
    assert.equal(res.status, 404, 'an empty body is no body');
    const withBody = await call(port, 'GET', '/api/status', { 'Content-Length': '5' });
    assert.equal(withBody.status, 413);
    assert.equal(withBody.json().code, 'QP_ERR_API_BODY_NOT_ALLOWED');
    assert.equal(withBody.headers.connection, 'close');
  });

  test('more than 100 headers → 431 JSON', async (t) => {
    const { port } = await startApi(t);
    const headers = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-h${i}`, 'v']));
    const res = await call(port, 'GET', '/api/status', headers);
    assert.equal(res.status, 431);
    assert.equal(res.json().code, 'QP_ERR_API_HEADERS_TOO_LARGE');
  });

  test('headers over 16 KiB → 431 JSON from the parser', async (t) => {
    const { port } = await startApi(t);
    const res = await call(port, 'GET', '/api/status', { 'x-big': 'a'.repeat(20_000) });
    assert.equal(res.status, 431);
    assert.equal(res.json().code, 'QP_ERR_API_HEADERS_TOO_LARGE');
  });

  test('a failing store → 503 with its code; an unexpected error → 500 without details', async (t) => {
    const records = new MemoryRecords();
    records.get = (): never => {
      throw new QProxyError('QP_ERR_STORE_IO', 'the store could not read data/qproxy.db');
    };
    records.list = (): never => {
      throw new TypeError('secret internals');
    };
    const { port } = await startApi(t, { records });
    const unavailable = await call(port, 'GET', '/api/records/abc');
    assert.equal(unavailable.status, 503);
    assert.deepEqual(unavailable.json(), { error: 'the store could not read data/qproxy.db', code: 'QP_ERR_STORE_IO' });
    const broken = await call(port, 'GET', '/api/records');
    assert.equal(broken.status, 500);
    assert.equal(broken.json().code, 'QP_ERR_API_INTERNAL');
    assert.doesNotMatch(broken.text, /secret/);
  });

  test('a status document that cannot be serialised → 500 JSON', async (t) => {
    const { port } = await startApi(t, { status: () => ({ big: 1n }) });
    const res = await call(port, 'GET', '/api/status');
    assert.equal(res.status, 500);
    assert.equal(res.json().code, 'QP_ERR_API_INTERNAL');
  });
});

describe('connections', () => {
  test('a request Node cannot parse → 400 JSON and the connection closes', async (t) => {
    const { port } = await startApi(t);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /\r\nConnection: close\r\n/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { code: string };
    assert.equal(body.code, 'QP_ERR_API_BAD_REQUEST');
  });

  test('close() lets an in-flight call finish, answered with Connection: close', async (t) => {
    let release: (text: string) => void = () => undefined;
    let rendering = false;
    const metrics = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      render: () => {
        rendering = true;
        return new Promise<string>((resolve) => (release = resolve));
      },
    };
    const { server, port } = await startApi(t, { metrics });
    const pending = call(port, 'GET', '/metrics');
    for (let i = 0; i < 200 && !rendering; i++) await delay(5);
    assert.ok(rendering, 'the call reached the handler');
    const closed = server.close();
    release('qproxy_late 1\n');
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'qproxy_late 1\n');
    assert.equal(res.headers.connection, 'close');
    await closed;
  });
});
