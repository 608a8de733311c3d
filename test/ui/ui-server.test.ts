/**
 * The web UI's server side on a real API listener: its files and their security headers, the login
 * session (cookie attributes, expiry), the CSRF check, the login limit, and the switch-off.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { createWebUi } from '../../src/ui/index.js';
import { SessionStore } from '../../src/ui/sessions.js';
import { MemoryRecords, call, makeRecord, startApi, type Answer } from '../api/api-helpers.js';

const TOKEN = 'c3f1a9e2b7d44e0f9a8b7c6d5e4f3a2b';
const silent = pino({ level: 'silent' });

async function staticDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-ui-static-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="app.js"></script>');
  await writeFile(join(dir, 'app.js'), 'console.log("ui")');
  await writeFile(join(dir, 'notes.md'), 'not served: no known type');
  return `${dir}/`;
}

async function startUi(t: TestContext, o: { token?: string; records?: MemoryRecords; staticDir?: string | null } = {}) {
  const dir = o.staticDir === undefined ? await staticDir(t) : o.staticDir;
  return startApi(t, {
    ...(o.token !== undefined && { token: o.token }),
    ...(o.records !== undefined && { records: o.records }),
    ui: createWebUi({ ...(o.token !== undefined && { token: o.token }), logger: silent, staticDir: dir }),
  });
}

function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: out, json: () => JSON.parse(out) as Record<string, unknown> });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** Logs in and returns the Cookie header value and the CSRF token. */
async function login(port: number): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await post(port, '/api/session', { token: TOKEN });
  assert.equal(res.status, 201, res.text);
  const setCookie = String(res.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrf: String(res.json().csrf_token), setCookie };
}

describe('UI files', () => {
  test('/ui redirects to /ui/; the page and its files come without a token, with a strict CSP', async (t) => {
    const { port } = await startUi(t, { token: TOKEN });
    const redirect = await call(port, 'GET', '/ui');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, '/ui/');
    const page = await call(port, 'GET', '/ui/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe|\*/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    const script = await call(port, 'GET', '/ui/app.js');
    assert.equal(script.status, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    assert.equal(script.text, 'console.log("ui")');
    const again = await call(port, 'GET', '/ui/app.js', { 'If-None-Match': String(script.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    for (const missing of ['/ui/nope.js', '/ui/notes.md', '/ui/..%2Fsecret.js']) {
      assert.equal((await call(port, 'GET', missing)).status, 404, missing);
    }
  });

  test('the Host guard still applies; the API itself still needs the token', async (t) => {
    const { port } = await startUi(t, { token: TOKEN });
    assert.equal((await call(port, 'GET', '/ui/', { Host: 'evil.example' })).status, 421);
    assert.equal((await call(port, 'GET', '/api/records')).status, 401);
    assert.equal((await call(port, 'GET', '/api/records', { Authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  test('without the built files /ui/ answers 503 saying how to build them', async (t) => {
    const { port } = await startUi(t, { token: TOKEN, staticDir: null });
    const res = await call(port, 'GET', '/ui/');
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'QP_ERR_API_UI_NOT_BUILT');
    assert.match(String(res.json().error), /npm run build/);
  });

  test('api.ui false: no /ui/ and no /api/session', async (t) => {
    const { port } = await startApi(t, { token: TOKEN });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    assert.equal((await call(port, 'GET', '/ui/', auth)).status, 404);
    assert.equal((await call(port, 'GET', '/api/session', auth)).status, 404);
  });
});

describe('login session', () => {
  test('a wrong token is refused without a cookie; the right one sets an HttpOnly, SameSite=Strict cookie that opens the API', async (t) => {
    const { port } = await startUi(t, { token: TOKEN });
    const before = await call(port, 'GET', '/api/session');
    assert.deepEqual(before.json(), { authenticated: false, login_required: true, csrf_token: null, expires_at: null });
    const wrong = await post(port, '/api/session', { token: `${TOKEN}x` });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json().code, 'QP_ERR_API_UNAUTHORIZED');
    assert.equal(wrong.headers['set-cookie'], undefined);
    assert.equal((await post(port, '/api/session', { nope: 1 })).status, 400);

    const { cookie, csrf, setCookie } = await login(port);
    assert.match(setCookie, new RegExp(`^qproxy_session_${port}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200$`));
    assert.ok(!setCookie.includes(TOKEN));
    const status = await call(port, 'GET', '/api/status', { Cookie: cookie });
    assert.equal(status.status, 200, 'the cookie authenticates API calls');
    const doc = (await call(port, 'GET', '/api/session', { Cookie: cookie })).json();
    assert.equal(doc.authenticated, true);
    assert.equal(doc.csrf_token, csrf);
    // A presented bearer token is checked as such: a wrong one is refused even with a valid cookie.
    assert.equal((await call(port, 'GET', '/api/status', { Cookie: cookie, Authorization: 'Bearer wrong' })).status, 401);
    // Another cookie value, or the cookie of another port, opens nothing.
    assert.equal((await call(port, 'GET', '/api/status', { Cookie: `qproxy_session_${port}=forged` })).status, 401);
    assert.equal((await call(port, 'GET', '/api/status', { Cookie: cookie.replace(`_${port}=`, `_${port + 1}=`) })).status, 401);
  });

  test('state-changing calls of a session need its CSRF token; logging out ends the session', async (t) => {
    const record = makeRecord(Date.parse('2024-05-01T00:00:00Z'));
    const { port } = await startUi(t, { token: TOKEN, records: new MemoryRecords([record]) });
    const { cookie, csrf } = await login(port);
    for (const headers of [{ Cookie: cookie }, { Cookie: cookie, 'X-QProxy-CSRF': 'wrong' }] as Array<Record<string, string>>) {
      const res = await call(port, 'DELETE', `/api/records/${record.id}`, headers);
      assert.equal(res.status, 403);
      assert.equal(res.json().code, 'QP_ERR_API_CSRF');
    }
    assert.equal((await call(port, 'GET', `/api/records/${record.id}`, { Cookie: cookie })).status, 200, 'still there');
    assert.equal((await call(port, 'DELETE', `/api/records/${record.id}`, { Cookie: cookie, 'X-QProxy-CSRF': csrf })).status, 204);
    // The bearer token needs no CSRF token: scripts do not run in a browser.
    assert.equal((await call(port, 'DELETE', `/api/records/${record.id}`, { Authorization: `Bearer ${TOKEN}` })).status, 404);

    assert.equal((await call(port, 'DELETE', '/api/session', { Cookie: cookie })).status, 403, 'logout needs the CSRF token too');
    const out = await call(port, 'DELETE', '/api/session', { Cookie: cookie, 'X-QProxy-CSRF': csrf });
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    assert.equal((await call(port, 'GET', '/api/status', { Cookie: cookie })).status, 401);
  });

  test('a login from a page of another origin is refused', async (t) => {
    const { port } = await startUi(t, { token: TOKEN });
    const res = await post(port, '/api/session', { token: TOKEN }, { Origin: 'http://127.0.0.1:3000' });
    assert.equal(res.status, 403);
    assert.equal(res.json().code, 'QP_ERR_API_CSRF');
    assert.equal((await post(port, '/api/session', { token: TOKEN }, { Origin: `http://127.0.0.1:${port}` })).status, 201);
  });

  test('after ten wrong tokens from one address, logins answer 429 with Retry-After', async (t) => {
    const { port } = await startUi(t, { token: TOKEN });
    for (let i = 0; i < 10; i++) assert.equal((await post(port, '/api/session', { token: `guess-${i}` })).status, 401);
    const limited = await post(port, '/api/session', { token: TOKEN });
    assert.equal(limited.status, 429);
    assert.equal(limited.json().code, 'QP_ERR_API_LOGIN_LIMIT');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
  });

  test('without an API token there is nothing to log in to', async (t) => {
    const { port } = await startUi(t);
    const doc = (await call(port, 'GET', '/api/session')).json();
    assert.deepEqual(doc, { authenticated: true, login_required: false, csrf_token: null, expires_at: null });
    assert.equal((await call(port, 'GET', '/api/records')).status, 200);
  });
});

describe('session store', () => {
  test('a session ends when unused for the idle time, and at its maximum age even when used', () => {
    let now = 1_000_000;
    const store = new SessionStore({ idleMs: 1000, maxAgeMs: 5000, now: () => now });
    const a = store.create();
    now += 999;
    assert.ok(store.find(a.id), 'used within the idle time');
    now += 999;
    assert.ok(store.find(a.id));
    now += 1000;
    assert.equal(store.find(a.id), null, 'idle too long');

    const b = store.create();
    assert.equal(b.expiresAt, now + 5000);
    for (let i = 0; i < 5; i++) {
      now += 900;
      assert.ok(store.find(b.id));
    }
    now += 600;
    assert.equal(store.find(b.id), null, 'past its maximum age');
  });

  test('logins beyond the maximum end the oldest session', () => {
    const store = new SessionStore({ max: 2 });
    const first = store.create();
    const second = store.create();
    const third = store.create();
    assert.equal(store.size, 2);
    assert.equal(store.find(first.id), null);
    assert.ok(store.find(second.id));
    assert.ok(store.find(third.id));
    assert.notEqual(second.csrf, third.csrf);
  });
});
