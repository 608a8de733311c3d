/**
 * The web UI in a real browser: Debian's Chromium, driven by playwright-core (which never downloads a
 * browser). A Record node and a Playback node run as child processes with sync between them; real
 * traffic goes through the Record node to zone A's sample services, zone B's differ on purpose in
 * GET /api/products/:id (prices rounded). One browser serves the whole file.
 *
 * Screenshots of every page go to $QPROXY_SCREENSHOTS when set (`npm run screenshots` points it at
 * docs/), else to a folder in the system temp dir, named in the test output.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startSampleServices, VOLATILE_JSON_PATHS, type SampleServices } from '../../src/demo/services.js';
import { httpRequest, poll, startCli, type Started } from '../e2e/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'ui-test-token-5b0e8c2f7a914d3e';
const SHOTS = resolve(process.env.QPROXY_SCREENSHOTS ?? join(tmpdir(), 'qproxy-ui-screenshots'));
const VIEWPORT = { width: 1280, height: 800 };

const auth = { Authorization: `Bearer ${TOKEN}` };

interface Status {
  records: { count: number };
  playback: { replayed: number; mismatched: number; skipped: number };
}

/**
 * Polls a condition on the page from the test's side (the page's CSP forbids the string predicates
 * of waitForFunction), about 10 s at most.
 */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('the page did not reach the expected state within 10 s');
}

async function statusOf(node: Started): Promise<Status> {
  return JSON.parse((await httpRequest(`${node.api}/api/status`, { headers: auth })).body) as Status;
}

/** One key/value conversation through the Record node's TCP listener: a command, its reply, the next. */
function tcpSession(address: string, commands: string[]): Promise<void> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolveSession, reject) => {
    const socket = connect({ host, port: Number(port) });
    let next = 0;
    let buffered = '';
    socket.on('connect', () => socket.write(`${commands[next++]}\r\n`));
    socket.on('data', (c: Buffer) => {
      buffered += c.toString();
      while (buffered.includes('\n')) {
        buffered = buffered.slice(buffered.indexOf('\n') + 1);
        if (next < commands.length) socket.write(`${commands[next++]}\r\n`);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolveSession());
  });
}

async function traffic(a: Started, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const user = 101 + (i % 4);
    const product = 1 + (i % 6);
    await httpRequest(`${a.http}/api/products?category=${i % 2 === 0 ? 'coffee' : 'equipment'}`);
    await httpRequest(`${a.http}/api/products/${product}`);
    await httpRequest(`${a.http}/api/users/${user}`, { headers: { authorization: `Bearer user-${user}-secret` } });
    await httpRequest(`${a.http}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: user, items: [{ product_id: product, qty: 1 + (i % 3) }], note: 'x'.repeat(i === 0 ? 6000 : 10) }),
    });
  }
}

describe('web UI in Chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)` }, () => {
  let dir: string;
  let zoneA: SampleServices;
  let zoneB: SampleServices;
  let a: Started;
  let b: Started;
  let context: BrowserContext;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qproxy-ui-'));
    await mkdir(SHOTS, { recursive: true });
    zoneA = await startSampleServices('A', { http: 0, tcp: 0 });
    zoneB = await startSampleServices('B', { http: 0, tcp: 0 });
    const syncToken = 'ui-test-sync-token';
    await writeFile(
      join(dir, 'playback.json'),
      JSON.stringify({
        mode: 'Playback',
        node_id: 'zone-b',
        http: { host: '127.0.0.1', port: 0, downstream: zoneB.httpUrl },
        tcp: { host: '127.0.0.1', port: 0, downstream: [zoneB.tcpTarget] },
        sync: { host: '127.0.0.1', port: 0, token: syncToken },
        api: { host: '127.0.0.1', port: 0, token: TOKEN },
        storage: { path: join(dir, 'b.db') },
        playback: {
          live: { enabled: true, delay: '0ms' },
          safety: { rules: [{ method: 'POST', path: '/api/orders', action: 'replay' }] },
          // Stock levels move between zones; the diff must show the field greyed out.
          compare: { ignore: { json_paths: [...VOLATILE_JSON_PATHS, '$.stock'] } },
        },
        log: { level: 'warn' },
      }),
    );
    b = await startCli(join(dir, 'playback.json'), { killAfter: false });
    await writeFile(
      join(dir, 'record.json'),
      JSON.stringify({
        mode: 'Record',
        node_id: 'zone-a',
        http: { host: '127.0.0.1', port: 0, downstream: zoneA.httpUrl },
        tcp: { host: '127.0.0.1', port: 0, downstream: [zoneA.tcpTarget] },
        peer: { host: '127.0.0.1', port: Number(b.sync!.split(':').pop()), token: syncToken },
        api: { host: '127.0.0.1', port: 0, token: TOKEN },
        storage: { path: join(dir, 'a.db'), max_body: '4KiB' },
        log: { level: 'warn' },
      }),
    );
    a = await startCli(join(dir, 'record.json'), { killAfter: false });
    await traffic(a, 8);
    for (let s = 1; s <= 2; s++) await tcpSession(a.tcp!, ['PING', `SET cart:${s} 3`, `GET cart:${s}`, `DEL cart:${s}`, 'QUIT']);
    // 32 HTTP records and 2 TCP sessions; the order with the 6000-byte note was cut at 4 KiB, so it is skipped.
    const synced = await poll(() => statusOf(b), (s) => s.playback.replayed + s.playback.skipped >= 34, 600, 50);
    assert.equal(synced.playback.replayed + synced.playback.skipped, 34, 'zone B decided every record');
    assert.ok(synced.playback.mismatched >= 8, `every GET /api/products/:id differs in zone B (${synced.playback.mismatched})`);

    const profile = join(dir, 'chromium-profile');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: VIEWPORT,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await context?.close();
    for (const node of [a, b]) {
      if (node && node.child.exitCode === null && node.child.signalCode === null) {
        const exited = once(node.child, 'exit');
        node.child.kill('SIGTERM');
        await exited;
      }
    }
    await zoneA?.close();
    await zoneB?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A PNG of the page; `full` takes the whole page, up to 1600 px high. */
  async function shot(page: Page, name: string, full = false): Promise<void> {
    const height = full ? Math.min(1600, (await page.locator('body').boundingBox())?.height ?? 800) : undefined;
    await page.screenshot({ path: join(SHOTS, `${name}.png`), ...(height !== undefined && { clip: { x: 0, y: 0, width: page.viewportSize()!.width, height } }), fullPage: full });
  }

  async function login(page: Page, node: Started, hash: string): Promise<void> {
    await page.goto(`${node.api}/ui/${hash}`);
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('header.top nav');
  }

  test('the page comes with a strict CSP; a wrong token is refused, the right one logs in', async (t) => {
    const page = await context.newPage();
    const res = await page.goto(`${a.api}/ui/`);
    assert.ok(res !== null);
    const csp = res.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=That is not the API token of this node.');
    await shot(page, 'ui-login');
    assert.equal((await context.cookies(a.api)).length, 0, 'no session cookie after a refused login');
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('table.records tbody tr');
    const cookies = await context.cookies(a.api);
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0]!.httpOnly, true);
    assert.equal(cookies[0]!.sameSite, 'Strict');
    assert.ok(!page.url().includes(TOKEN), 'the token never sits in the URL');
    t.diagnostic(`screenshots: ${SHOTS}`);
    await page.close();
  });

  test('find a record by URL, open it and see its body; a TCP session shows as a conversation', async () => {
    const page = await context.newPage();
    await page.goto(`${a.api}/ui/#/records`);
    await page.waitForSelector('table.records tbody tr');
    await shot(page, 'ui-records');
    await page.fill('input[name=q]', '/api/users/101');
    await page.click('form[role=search] button[type=submit]');
    await until(async () => {
      const urls = await page.locator('table.records td.url a').allTextContents();
      return urls.length > 0 && urls.every((u) => u.includes('/api/users/101'));
    });
    await page.click('table.records td.url a');
    await page.waitForSelector('.json-tree');
    const body = await page.textContent('main');
    assert.match(body ?? '', /"Ada"/, 'the response body is shown');
    assert.match(body ?? '', /REDACTED/, 'the redacted Authorization header is marked');
    await shot(page, 'ui-record', true);

    await page.goto(`${a.api}/ui/#/records`);
    await page.fill('input[name=q]', '');
    await page.selectOption('select[name=protocol]', 'tcp');
    await page.click('form[role=search] button[type=submit]');
    await until(async () => (await page.locator('table.records tbody tr').count()) === 2 && (await page.locator('table.records .badge-tcp').count()) === 2);
    await page.click('table.records td.url a');
    await page.waitForSelector('.conversation .chunk.s2c');
    const chunks = await page.locator('.conversation .chunk-text').allTextContents();
    assert.ok(chunks.some((c) => c.includes('PING')) && chunks.some((c) => c.includes('+PONG')), chunks.join('|'));
    await shot(page, 'ui-tcp');
    await page.close();
  });

  test('a replay on the Playback node ranks the endpoint that differs and shows the planted field in the diff; a WebSocket shows its messages', async () => {
    const page = await context.newPage();
    await login(page, b, '#/replays');
    await page.waitForSelector('table.replays tbody tr');
    await page.click('table.replays td a');
    await page.waitForSelector('table.endpoints tbody tr');
    const top = await page.textContent('table.endpoints tbody tr:first-child td.url');
    assert.equal(top, 'GET /api/products/{id}', 'the endpoint with mismatches comes first');
    await page.waitForSelector('table.results tbody tr');
    await shot(page, 'ui-replay');
    await page.click('table.results td.url a');
    await page.waitForSelector('table.diff');
    const differs = await page.locator('table.diff tr.f-differs th').allTextContents();
    assert.ok(differs.some((d) => d.startsWith('$.price')), `rows that differ: ${differs.join(', ')}`);
    const ignored = await page.locator('table.diff tr.f-ignored th').allTextContents();
    assert.ok(ignored.some((d) => d.startsWith('$.stock')), `ignored rows: ${ignored.join(', ')}`);
    await shot(page, 'ui-diff', true);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'ui-diff-dark', true);

    // A WebSocket connection (imported on the Playback node, which live replay passes over) shows its messages.
    const wsHar = {
      log: {
        version: '1.2',
        entries: [
          {
            startedDateTime: '2026-01-02T03:04:05.000Z',
            time: 3,
            request: { method: 'GET', url: 'ws://chat.example/socket', httpVersion: 'HTTP/1.1', headers: [{ name: 'Upgrade', value: 'websocket' }] },
            response: { status: 101, statusText: 'Switching Protocols', httpVersion: 'HTTP/1.1', headers: [{ name: 'Upgrade', value: 'websocket' }] },
            _webSocketMessages: [
              { type: 'send', time: 1767323045.01, opcode: 1, data: '{"say":"hello"}' },
              { type: 'receive', time: 1767323045.02, opcode: 2, data: 'AQL/' },
            ],
          },
        ],
      },
    };
    const imported = await httpRequest(`${b.api}/api/records?format=har`, { method: 'POST', body: JSON.stringify(wsHar), headers: { ...auth, 'content-type': 'application/json' } });
    assert.equal(imported.status, 201, imported.body);
    const wsId = (JSON.parse(imported.body) as { ids: string[] }).ids[0]!;
    await page.goto(`${b.api}/ui/#/records/${wsId}`);
    await page.waitForSelector('.conversation.websocket .ws-message.s2c');
    const wsRows = await page.locator('.conversation.websocket .ws-message').allTextContents();
    assert.ok(wsRows[0]!.includes('client → server') && wsRows[0]!.includes('text') && wsRows[0]!.includes('{"say":"hello"}'), wsRows.join('|'));
    assert.ok(wsRows[1]!.includes('server → client') && wsRows[1]!.includes('binary') && /01\s*02\s*ff/i.test(wsRows[1]!), wsRows.join('|'));
    await shot(page, 'ui-websocket', true);
    await page.close();
  });

  test('a replay started from the form runs to the end (POST with the session and its CSRF token)', async () => {
    const page = await context.newPage();
    await page.goto(`${b.api}/ui/#/replays`);
    await page.click('text=New replay');
    await page.selectOption('select[name=range]', 'all');
    await page.fill('input[name=path]', '/api/products/**');
    await page.fill('input[name=speed]', '0');
    await shot(page, 'ui-replay-form');
    await page.click('text=Start replay');
    await page.waitForURL(/#\/replays\/[0-9a-f-]{36}$/);
    await page.waitForSelector('.record-head .badge-good');
    const state = await page.textContent('.record-head h1');
    assert.match(state ?? '', /done/);
    const mismatches = await page.textContent('.stat-bad .stat-value');
    assert.equal(mismatches, '8', 'the 8 recorded product lookups all differ in zone B');
    await page.goto(`${b.api}/ui/#/replays`);
    await until(async () => (await page.locator('table.replays tbody tr').count()) === 2);
    await shot(page, 'ui-replays');
    await page.close();
  });

  test('the live page charts the node and shows its sync link', async () => {
    const page = await context.newPage();
    await page.goto(`${a.api}/ui/#/live`);
    await page.waitForSelector('.chart canvas');
    assert.equal(await page.locator('.chart').count(), 8, 'every chart of a Record node');
    await page.waitForSelector('.panel .badge-good:text("connected")');
    // Traffic while the page samples (every 2 s), so that the screenshot has lines, not only axes;
    // longer when the screenshots are made for the docs.
    const until = Date.now() + (process.env.QPROXY_SCREENSHOTS ? 30_000 : 4_000);
    while (Date.now() < until) await traffic(a, 1);
    await shot(page, 'ui-live');
    await page.setViewportSize({ width: 420, height: 860 });
    await page.goto(`${a.api}/ui/#/records`);
    await page.waitForSelector('table.records tbody tr');
    await shot(page, 'ui-records-narrow');
    await page.setViewportSize(VIEWPORT);
    await page.close();
  });

  test('the API refuses calls without a cookie, and state-changing calls of a session without its CSRF token', async () => {
    assert.equal((await httpRequest(`${a.api}/api/records`)).status, 401);
    const cookie = (await context.cookies(a.api)).map((c) => `${c.name}=${c.value}`).join('; ');
    assert.notEqual(cookie, '');
    const list = await httpRequest(`${a.api}/api/records?limit=1`, { headers: { cookie } });
    assert.equal(list.status, 200, 'the session cookie authenticates reads');
    const id = (JSON.parse(list.body) as { records: Array<{ id: string }> }).records[0]!.id;
    const forged = await httpRequest(`${a.api}/api/records/${id}`, { method: 'DELETE', headers: { cookie } });
    assert.equal(forged.status, 403);
    assert.equal((JSON.parse(forged.body) as { code: string }).code, 'QP_ERR_API_CSRF');
    assert.equal((await httpRequest(`${a.api}/api/records/${id}`, { headers: auth })).status, 200, 'the record is still there');

    // The page's own delete button sends the token: the record goes.
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${a.api}/ui/#/records/${id}`);
    await page.click('button.danger');
    await page.waitForURL(/#\/records$/);
    assert.equal((await httpRequest(`${a.api}/api/records/${id}`, { headers: auth })).status, 404);
    await page.close();
  });
});
