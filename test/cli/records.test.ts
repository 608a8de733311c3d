/**
 * `qproxy records` as a real child process against a real node with recorded traffic, plus the
 * error paths every command shares (unreachable API, refused token, usage errors, --help).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backend, httpRequest, poll, startCli, tempDir } from '../e2e/helpers.js';
import { TOKEN, cli, startZones, type Zones } from './helpers.js';

interface Summary {
  id: string;
  protocol: string;
  method?: string;
  url?: string;
  status?: number;
  started_at: string;
}

// Set up at module level (not in before()): the helpers' after() hooks then stop the nodes when the
// whole file is done rather than after the hook.
const zones: Zones = await startZones(['/items/1', 'POST /orders', '/price', '/items/2']);
let recorded: Summary[] = (
  JSON.parse((await httpRequest(`${zones.a.api}/api/records?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } })).body) as { records: Summary[] }
).records;
assert.equal(recorded.length, 4);

test('the table lists every record with its id, method, status and URL', async () => {
  const r = await cli(['records'], zones.envA);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^TIME\s+ID\s+PROTO\s+REQUEST\s+DURATION\s+SIZE$/);
  assert.equal(lines.length, 5, 'a header and one line per record');
  for (const rec of recorded) assert.ok(r.stdout.includes(rec.id), `table shows ${rec.id}`);
  assert.match(r.stdout, /GET 200 \/items\/1/);
  assert.match(r.stdout, /POST 200 \/orders/);
  // Newest first, like the API.
  assert.ok(lines[1]!.includes(recorded[0]!.id));
});

test('--json prints a JSON array and --jsonl one record per line, both as the API lists them', async () => {
  const json = await cli(['records', '--json'], zones.envA);
  assert.equal(json.code, 0, json.stderr);
  const list = JSON.parse(json.stdout) as Summary[];
  assert.deepEqual(list.map((r) => r.id), recorded.map((r) => r.id));
  assert.equal(list[0]!.protocol, 'http');

  const jsonl = await cli(['records', '--jsonl', '--limit', '2'], zones.envA);
  assert.equal(jsonl.code, 0, jsonl.stderr);
  const lines = jsonl.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Summary);
  assert.deepEqual(lines.map((r) => r.id), recorded.slice(0, 2).map((r) => r.id));
  assert.match(jsonl.stderr, /more records match — use --limit N or --all/);

  const empty = await cli(['records', '--json', '--protocol', 'tcp'], zones.envA);
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(JSON.parse(empty.stdout), []);
});

test('time filters take ISO times and relative times such as -1h', async () => {
  const ids = async (args: string[]): Promise<string[]> => {
    const r = await cli(['records', '--json', ...args], zones.envA);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Summary[]).map((s) => s.id);
  };
  assert.equal((await ids(['--start', '-1h'])).length, 4);
  assert.deepEqual(await ids(['--end', '-1h']), []);
  assert.deepEqual(await ids(['--start=-1d', '--end', '-2h']), []);
  // From the third record on (the list is newest first, so that is the newest two plus itself).
  const third = recorded[2]!;
  assert.deepEqual(await ids(['--start', third.started_at]), recorded.slice(0, 3).map((r) => r.id));
  assert.deepEqual(await ids(['--start', '2000-01-01T00:00:00Z', '--end', '2000-01-02']), []);

  const bad = await cli(['records', '--start', 'yesterday'], zones.envA);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--start must be an ISO 8601 time/);
});

test('show prints the whole record; delete removes it and a second show says it is gone', async () => {
  const victim = recorded[3]!;
  const shown = await cli(['records', 'show', victim.id], zones.envA);
  assert.equal(shown.code, 0, shown.stderr);
  const full = JSON.parse(shown.stdout) as { id: string; request: { method: string } };
  assert.equal(full.id, victim.id);
  assert.equal(full.request.method, 'GET');

  const del = await cli(['records', 'delete', victim.id], zones.envA);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, new RegExp(`deleted record ${victim.id}`));
  const again = await cli(['records', 'show', victim.id], zones.envA);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /404 \(QP_ERR_API_RECORD_NOT_FOUND\).*not found/);
  recorded = recorded.slice(0, 3);

  const missing = await cli(['records', 'show'], zones.envA);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing ID/);
});

test('an unreachable API exits 1 with a message saying what to check', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  for (const cmd of [['records'], ['replay'], ['export', '--har', '-'], ['import', '--har', '-']]) {
    const r = await cli([...cmd, '--api', `http://127.0.0.1:${port}`], {}, '{"log":{"version":"1.2","entries":[]}}');
    assert.equal(r.code, 1, `${cmd[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`cannot reach the QProxy API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) — is the node running\\? set --api or QPROXY_API_URL`));
  }
  const bad = await cli(['records', '--api', 'not a url']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--api must be an http\(s\) URL/);
});

test('a wrong or missing token exits 1 naming 401 and QPROXY_API_TOKEN', async () => {
  const wrong = await cli(['records', '--token', 'not-the-token'], { QPROXY_API_URL: zones.a.api });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /failed with 401 \(QP_ERR_API_UNAUTHORIZED\)/);
  assert.match(wrong.stderr, /QPROXY_API_TOKEN/);
  const none = await cli(['records'], { QPROXY_API_URL: zones.a.api });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /401.*pass --token or set QPROXY_API_TOKEN/);
  const fromEnv = await cli(['records', '--json'], { QPROXY_API_URL: zones.a.api, QPROXY_API_TOKEN: TOKEN });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
});

test('--help on every command exits 0; unknown flags and subcommands exit 2 with the usage', async () => {
  await Promise.all(
    ['records', 'replay', 'export', 'import'].map(async (cmd) => {
      const [help, bad] = await Promise.all([cli([cmd, '--help']), cli([cmd, '--frobnicate'])]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`Usage:[\\s\\S]*qproxy ${cmd}`));
      assert.match(help.stdout, /Exit codes/);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, new RegExp(`qproxy ${cmd}: Unknown option '--frobnicate'`));
      assert.match(bad.stderr, /Usage:/);
    }),
  );
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  for (const cmd of ['records', 'replay', 'export', 'import']) assert.match(top.stdout, new RegExp(`qproxy ${cmd} `));
  const usage = await Promise.all([
    cli(['records', 'frobnicate']),
    cli(['records', '--limit', '0']),
    cli(['records', '--limit', '5', '--all']),
    cli(['export']),
    cli(['replay', '--ids', 'a', '--start', '-1h']),
  ]);
  assert.deepEqual(usage.map((r) => r.code), [2, 2, 2, 2, 2], usage.map((r) => r.stderr).join('\n'));
  assert.match(usage[3].stderr, /--har FILE is required/);
});

test('--all and large --limit values page through the API with next', async () => {
  const dir = await tempDir();
  const { url } = await backend();
  const config = join(dir, 'many.json');
  await writeFile(
    config,
    JSON.stringify({
      mode: 'Record',
      node_id: 'many',
      http: { host: '127.0.0.1', port: 0, downstream: url },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'many.db') },
      log: { level: 'warn' },
    }),
  );
  const node = await startCli(config);
  const total = 1005;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent < total) {
        const n = sent++;
        assert.equal((await httpRequest(`${node.http}/n/${n}`)).status, 200);
      }
    }),
  );
  const count = async (): Promise<number> => (JSON.parse((await httpRequest(`${node.api}/api/status`)).body) as { records: { count: number } }).records.count;
  assert.equal(await poll(count, (c) => c >= total, 400, 50), total);

  const all = await cli(['records', '--all', '--jsonl'], { QPROXY_API_URL: node.api });
  assert.equal(all.code, 0, all.stderr);
  const ids = all.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as Summary).id);
  assert.equal(ids.length, total);
  assert.equal(new Set(ids).size, total, 'no record twice across pages');
  assert.doesNotMatch(all.stderr, /more records match/);

  const some = await cli(['records', '--limit', '1002', '--json'], { QPROXY_API_URL: node.api });
  assert.equal(some.code, 0, some.stderr);
  assert.deepEqual((JSON.parse(some.stdout) as Summary[]).map((r) => r.id), ids.slice(0, 1002));
  assert.match(some.stderr, /showing the newest 1002; more records match/);
});
