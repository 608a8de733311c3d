import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { startRawBackend } from '../helpers/backend.js';
import type { RawBackend } from '../helpers/backend.js';
import { rawBodyJson, rawExchange, rawStatus, startProxy, waitFor } from './harness.js';
import type { ProxyHarness } from './harness.js';

/**
 * Issue 17 defect 2: an HTTP/1 parser accepts "HTTP/2.0" and version-less (HTTP/0.9) request
 * lines. Such a request once reached code written for real HTTP/2 streams (500, an error log line
 * any client could repeat) or was proxied. Now: 505 with a JSON body, counted, logged at debug.
 */

/** A pino logger at debug level whose lines are kept as parsed objects. */
function capturingLogger(): { logger: Logger; lines: Array<{ level: number; msg: string; reason?: string }> } {
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

const PINO_DEBUG = 20;
const PINO_ERROR = 50;

const LINES: { name: string; bytes: string }[] = [
  { name: 'GET / HTTP/2.0', bytes: 'GET / HTTP/2.0\r\nHost: a\r\n\r\n' },
  { name: 'POST with a body, HTTP/2.0', bytes: 'POST /upload HTTP/2.0\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' },
  { name: 'HTTP/0.9 (no version)', bytes: 'GET /\r\n\r\n' },
  { name: 'HTTP/0.9 (named)', bytes: 'GET / HTTP/0.9\r\n\r\n' },
];

describe('request lines of HTTP versions the HTTP/1 listener does not speak', () => {
  let raw: RawBackend;
  let px: ProxyHarness;
  let log: ReturnType<typeof capturingLogger>;

  before(async () => {
    raw = await startRawBackend();
    log = capturingLogger();
    px = await startProxy(raw.origin, { logger: log.logger });
  });
  after(async () => {
    await px.close();
    await raw.close();
  });

  for (const line of LINES) {
    it(`${line.name} → 505, counted, logged at debug, nothing forwarded`, async () => {
      const before = px.observer.rejections.length;
      const answer = await rawExchange(px.port, line.bytes);
      assert.equal(rawStatus(answer), 505, answer.toString('latin1').slice(0, 200));
      const body = rawBodyJson<{ error: string; code: string }>(answer);
      assert.equal(body.code, 'QP_ERR_HTTP_VERSION');
      assert.match(body.error, /HTTP\/1\.1/, 'the body says what to send instead');
      assert.match(answer.toString('latin1'), /\r\nConnection: close\r\n/i);
      await waitFor(() => px.observer.rejections.length === before + 1, 'the refusal to be counted');
      assert.equal(px.observer.rejections.at(-1), 'unsupported_version');
      assert.equal(raw.received().length, 0, 'nothing reached the downstream');
      assert.ok(log.lines.some((l) => l.level === PINO_DEBUG && l.reason === 'unsupported_version'), 'a debug line names the reason');
      assert.deepEqual(log.lines.filter((l) => l.level >= PINO_ERROR), [], 'no error is logged');
    });
  }

  it('records the refusal with its code and the version the client claimed', async () => {
    await rawExchange(px.port, 'GET /claims-h2 HTTP/2.0\r\nHost: a\r\n\r\n');
    await waitFor(() => px.recorder.drafts.some((d) => d.request.url === '/claims-h2'), 'the draft');
    const d = px.recorder.drafts.find((x) => x.request.url === '/claims-h2')!;
    assert.equal(d.status, 505);
    assert.equal(d.error?.code, 'QP_ERR_HTTP_VERSION');
    assert.equal(d.request.http_version, '2.0');
    assert.equal(d.downstream, null);
  });

  it('HTTP/1.0 and HTTP/1.1 are still proxied', async () => {
    assert.equal(rawStatus(await rawExchange(px.port, 'GET /one-oh HTTP/1.0\r\nHost: a\r\n\r\n')), 200);
    assert.equal(rawStatus(await rawExchange(px.port, 'GET /one-one HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')), 200);
  });
});
