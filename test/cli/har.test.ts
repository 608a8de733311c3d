/**
 * `qproxy export --har` and `qproxy import --har` as real child processes: export from a Record
 * node, import into a fresh Playback node, export again, and compare the HAR entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backend, httpRequest, poll, tempDir } from '../e2e/helpers.js';
import { TOKEN, cli, startPlayback, startZones } from './helpers.js';

interface Har {
  log: { version: string; creator: { name: string }; entries: Entry[]; _next?: unknown };
}

interface Entry {
  startedDateTime: string;
  request: { method: string; url: string; headers: Array<{ name: string; value: string }> };
  response: { status: number; content: { text?: string } };
  _qproxy?: { id?: string; node_id?: string };
}

// Module level, not before(): the helpers' after() hooks then run when the whole file is done.
const zones = await startZones(['/items/1', 'POST /orders', '/price', '/items/2']);
const { url: downstream } = await backend();
const target = await startPlayback(zones.dir, 'imported', downstream);
const envTarget = { QPROXY_API_URL: target.api, QPROXY_API_TOKEN: TOKEN };

/** An entry without what legitimately changes on import: the node that holds it. */
function comparable(e: Entry): Entry {
  const { _qproxy, ...rest } = e;
  return { ...rest, _qproxy: { ...(_qproxy?.id !== undefined && { id: _qproxy.id }) } };
}

test('export → import into a Playback node → export again keeps every entry', async () => {
  const dir = await tempDir();
  const first = join(dir, 'first.har');
  const out = await cli(['export', '--har', first, '--all'], zones.envA);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`exported 4 entries to ${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const har = JSON.parse(await readFile(first, 'utf8')) as Har;
  assert.equal(har.log.version, '1.2');
  assert.equal(har.log.entries.length, 4);
  assert.equal('_next' in har.log, false, 'the paging cursor is not part of the file');
  const times = har.log.entries.map((e) => Date.parse(e.startedDateTime));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'entries oldest first');
  assert.deepEqual(har.log.entries.map((e) => `${e.request.method} ${new URL(e.request.url).pathname}`), ['GET /items/1', 'POST /orders', 'GET /price', 'GET /items/2']);
  assert.deepEqual(await readdir(dir), ['first.har'], 'no temporary file left behind');

  const imported = await cli(['import', '--har', first, '--node-id', 'from-zone-a'], envTarget);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /^imported 4 records \(0 already present\)$/m);
  const again = await cli(['import', '--har', first], envTarget);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^imported 0 records \(4 already present\)$/m);

  const second = await cli(['export', '--har', '-'], envTarget);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /exported 4 entries to stdout/);
  const back = JSON.parse(second.stdout) as Har;
  assert.deepEqual(back.log.entries.map(comparable), har.log.entries.map(comparable));
  assert.ok(back.log.entries.every((e) => e._qproxy?.node_id === undefined || e._qproxy.node_id === 'from-zone-a'));

  const records = await cli(['records', '--json'], envTarget);
  assert.equal(records.code, 0, records.stderr);
  assert.equal((JSON.parse(records.stdout) as unknown[]).length, 4);
});

test('export honours --limit and filters; import reads stdin', async () => {
  const limited = await cli(['export', '--har', '-', '--limit', '2'], zones.envA);
  assert.equal(limited.code, 0, limited.stderr);
  const har = JSON.parse(limited.stdout) as Har;
  assert.equal(har.log.entries.length, 2);
  // The newest two (the API pages newest first), written oldest first.
  assert.deepEqual(har.log.entries.map((e) => new URL(e.request.url).pathname), ['/price', '/items/2']);

  const none = await cli(['export', '--har', '-', '--end', '-1h'], zones.envA);
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual((JSON.parse(none.stdout) as Har).log.entries, []);

  const dir = await tempDir();
  const piped = await startPlayback(dir, 'piped', downstream);
  const viaStdin = await cli(['import', '--har', '-'], { QPROXY_API_URL: piped.api, QPROXY_API_TOKEN: TOKEN }, limited.stdout);
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.match(viaStdin.stdout, /imported 2 records \(0 already present\)/);
});

test('import --replay starts an on-demand replay of exactly the imported records and prints its id', async () => {
  const exported = await cli(['export', '--har', '-', '--limit', '2'], zones.envA);
  assert.equal(exported.code, 0, exported.stderr);
  const dir = await tempDir();
  const node = await startPlayback(dir, 'replayed', downstream);
  const env = { QPROXY_API_URL: node.api, QPROXY_API_TOKEN: TOKEN };
  const r = await cli(['import', '--har', '-', '--replay'], env, exported.stdout);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^imported 2 records \(0 already present\)$/m);
  const id = /^replay (\S+) started: follow it with GET \/api\/replays\/\1$/m.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const doc = await poll(
    async () => JSON.parse((await httpRequest(`${node.api}/api/replays/${id}`, auth)).body) as { state: string; summary: { replayed: number } },
    (d) => d.state !== 'running',
  );
  assert.equal(doc.state, 'done');
  assert.equal(doc.summary.replayed, 2);
});

test('import errors are readable: not JSON, invalid HAR, a Record node, a missing file', async () => {
  const dir = await tempDir();
  const notJson = join(dir, 'not.har');
  await writeFile(notJson, '<html>');
  const r1 = await cli(['import', '--har', notJson], envTarget);
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /not\.har is not a HAR file: not JSON/);

  const invalid = join(dir, 'invalid.har');
  await writeFile(invalid, JSON.stringify({ log: { version: '1.2', entries: [{ request: { method: 'GET' } }] } }));
  const r2 = await cli(['import', '--har', invalid], envTarget);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /400 \(QP_ERR_HAR_INVALID\): .*entries\[0\]/);

  const r3 = await cli(['import', '--har', invalid], zones.envA);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /409/);

  const r4 = await cli(['import', '--har', join(dir, 'nope.har')], envTarget);
  assert.equal(r4.code, 1);
  assert.match(r4.stderr, /cannot read .*nope\.har: ENOENT/);

  const r5 = await cli(['export', '--har', join(dir, 'missing-folder', 'x.har')], zones.envA);
  assert.equal(r5.code, 1);
  assert.match(r5.stderr, /cannot write .*x\.har/);
});

test('export from a node without HAR support says so', async () => {
  // A plain HTTP server standing in for "not a QProxy API": the message must not be a stack trace.
  const { url } = await backend((_req, _body, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"hello":"world"}');
  });
  const r = await cli(['export', '--har', '-', '--api', url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /did not answer a HAR document/);
});
