import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { BodyCapture } from '../../src/recording/capture.js';
import type { HeaderLine, QRecord } from '../../src/recording/model.js';
import { HttpRecorder } from '../../src/recording/recorder.js';
import { Redactor } from '../../src/recording/redaction.js';
import { expected, options } from './draft.js';

function lines(raw: string[]): HeaderLine[] {
  const out: HeaderLine[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

async function capture(msg: IncomingMessage, limit: number): Promise<BodyCapture> {
  const cap = new BodyCapture(limit);
  msg.on('data', (c: Buffer) => cap.push(c));
  await once(msg, 'end');
  return cap;
}

// Header blocks and bodies as they come off real sockets (rawHeaders keeps case, order and repeated
// Set-Cookie lines), recorded the way the proxy hands them over.
void describe('HttpRecorder with exchanges captured from real sockets', () => {
  const seen: Array<{ url: string; headers: HeaderLine[]; body: BodyCapture }> = [];
  const server = createServer((req, res) => {
    void capture(req, 1 << 16).then((body) => {
      seen.push({ url: req.url ?? '', headers: lines(req.rawHeaders), body });
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Set-Cookie', ['sid=server-session; Path=/; HttpOnly', 'theme=dark']);
      res.end(JSON.stringify({ access_token: 'issued-token', user: { id: 7, name: 'ann' } }));
    });
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  void it('stores the exchange with every secret replaced and everything else intact', async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const reqBody = JSON.stringify({ login: 'ann', password: 'hunter2' });
    const headers: IncomingHttpHeaders = {
      'content-type': 'application/json',
      authorization: 'Bearer client-token',
      cookie: 'sid=client-session; lang=en',
      'X-Trace': 'trace-1',
    };
    const started = Date.now();
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/login?next=%2Fhome&api_key=K1', headers });
    req.end(reqBody);
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const resBody = await capture(res, 1 << 16);
    const got = seen[0]!;

    const records: QRecord[] = [];
    const redactor = new Redactor(options({ jsonPaths: ['$.password', '$.access_token'] }));
    const recorder = new HttpRecorder({ enabled: true, nodeId: 'az-a-1', maxBody: 1 << 16, redactor, sink: { offer: (r) => records.push(r) > 0 } });
    recorder.commit({
      protocol: 'http',
      started_at: started,
      duration_ms: Date.now() - started,
      client: { address: '127.0.0.1', port: req.socket?.localPort ?? 0 },
      tls: null,
      downstream: `http://127.0.0.1:${port}`,
      request: { method: 'POST', url: got.url, http_version: '1.1', headers: got.headers, body: got.body.result(), trailers: [] },
      response: {
        status: res.statusCode ?? 0,
        status_message: res.statusMessage ?? '',
        http_version: res.httpVersion,
        headers: lines(res.rawHeaders),
        body: resBody.result(),
        trailers: [],
      },
      status: res.statusCode ?? null,
      timings: { request_end: null, response_start: null, response_end: null },
      error: null,
    });

    assert.equal(records.length, 1);
    const r = records[0]!;
    assert.ok(r.protocol === 'http');
    assert.equal(r.request.url, `/login?next=%2Fhome&api_key=${expected('K1')}`);
    const reqH = new Map(r.request.headers);
    assert.equal(reqH.get('authorization'), `Bearer ${expected('client-token')}`);
    assert.equal(reqH.get('cookie'), `sid=${expected('client-session')}; lang=${expected('en')}`);
    assert.equal(reqH.get('X-Trace'), 'trace-1');
    assert.deepEqual(JSON.parse(r.request.body.data.toString()), { login: 'ann', password: expected('hunter2') });
    const setCookies = r.response!.headers.filter(([n]) => n.toLowerCase() === 'set-cookie').map(([, v]) => v);
    assert.deepEqual(setCookies, [`sid=${expected('server-session')}; Path=/; HttpOnly`, `theme=${expected('dark')}`]);
    assert.deepEqual(JSON.parse(r.response!.body.data.toString()), { access_token: expected('issued-token'), user: { id: 7, name: 'ann' } });
    assert.deepEqual([...r.redacted].sort(), [
      'request.body$.password',
      'request.headers.authorization',
      'request.headers.cookie',
      'request.query.api_key',
      'response.body$.access_token',
      'response.headers.set-cookie',
    ]);
    // Bodies as text, so that a secret left in a body would show up in the search below.
    const stored = JSON.stringify(r, (_k, v: unknown) => {
      const b = v as { type?: unknown; data?: unknown } | null;
      return b?.type === 'Buffer' && Array.isArray(b.data) ? Buffer.from(b.data as number[]).toString() : v;
    });
    assert.ok(stored.includes('"login\\":\\"ann'), 'bodies are searched as text');
    for (const secret of ['client-token', 'client-session', 'hunter2', 'K1', 'server-session', 'issued-token']) {
      assert.ok(!stored.includes(secret), secret);
    }
  });
});
