/**
 * `qproxy replay` as a real child process against a real Playback node whose downstream differs
 * from the recording in one endpoint (/price): the summary, the diff excerpt, the --min-success exit
 * codes, --json, --no-wait and Ctrl-C cancelling the replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, poll } from '../e2e/helpers.js';
import { TOKEN, cli, spawnCli, startZones } from './helpers.js';

interface ReplayDoc {
  id: string;
  state: string;
  summary: { counts: Record<string, number>; success_rate: number | null };
}

// Module level, not before(): the helpers' after() hooks then run when the whole file is done.
const zones = await startZones(['/items/1', 'POST /orders', '/price', '/items/2']);
const auth = { authorization: `Bearer ${TOKEN}` };

async function replayDoc(id: string): Promise<ReplayDoc> {
  return JSON.parse((await httpRequest(`${zones.b.api}/api/replays/${id}`, { headers: auth })).body) as ReplayDoc;
}

test('a replay above --min-success exits 0 and prints the summary and the /price diff', async () => {
  const r = await cli(['replay', '--speed', '0', '--min-success', '0.5'], zones.envB);
  assert.equal(r.code, 0, r.stderr);
  // GETs are replayed, the POST is a dry run (the node's default safety policy): 2 of 3 match.
  assert.match(r.stdout, /replay \S+ done in/);
  assert.match(r.stdout, /total\s+4/);
  assert.match(r.stdout, /matched\s+2/);
  assert.match(r.stdout, /mismatched\s+1/);
  assert.match(r.stdout, /errors\s+0/);
  assert.match(r.stdout, /success rate\s+66\.7%\s+\(threshold 50\.0%: ok\)/);
  assert.match(r.stdout, /worst differences \(1 of 1\):/);
  assert.match(r.stdout, /GET \/price\s+200 → 200/);
  assert.match(r.stdout, /price/);
  assert.match(r.stdout, /10[\s\S]*12/, 'the diff excerpt shows the recorded and the replayed price');
  assert.match(r.stderr, /replay \S+ started on http:\/\/127\.0\.0\.1:\d+ \(4 records\)/);
});

test('below --min-success exits 3, with a fraction or a percentage', async () => {
  const fraction = await cli(['replay', '--speed', '0', '--min-success', '1.0'], zones.envB);
  assert.equal(fraction.code, 3, fraction.stderr);
  assert.match(fraction.stdout, /threshold 100\.0%: BELOW/);
  assert.match(fraction.stderr, /success rate 66\.7% is below --min-success 100\.0%/);

  const percent = await cli(['replay', '--speed', '0', '--min-success', '90%', '--json'], zones.envB);
  assert.equal(percent.code, 3, percent.stderr);
  const doc = JSON.parse(percent.stdout) as ReplayDoc;
  assert.equal(doc.state, 'done');
  assert.equal(doc.summary.counts.mismatch, 1);
  assert.equal(doc.summary.counts.match, 2);

  const bad = await cli(['replay', '--min-success', '150'], zones.envB);
  assert.equal(bad.code, 2);
});

test('filters narrow the replay: only /items/** matches, so 100% succeeds', async () => {
  const r = await cli(['replay', '--speed', '0', '--path', '/items/**', '--method', 'GET', '--min-success', '100', '--json'], zones.envB);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as ReplayDoc;
  assert.equal(doc.summary.counts.match, 2);
  assert.equal(doc.summary.counts.mismatch, 0);
  assert.equal(doc.summary.success_rate, 1);

  const ids = JSON.parse((await httpRequest(`${zones.b.api}/api/records?limit=10`, { headers: auth })).body) as { records: Array<{ id: string; url: string }> };
  const price = ids.records.find((x) => x.url === '/price')!;
  const one = await cli(['replay', '--speed', '0', '--ids', price.id, '--json'], zones.envB);
  assert.equal(one.code, 0, one.stderr);
  assert.equal((JSON.parse(one.stdout) as ReplayDoc).summary.counts.mismatch, 1);
});

test('--no-wait prints the id at once; the replay runs on', async () => {
  const r = await cli(['replay', '--speed', '0', '--no-wait'], zones.envB);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  const doc = await poll(() => replayDoc(id), (d) => d.state !== 'running', 200, 50);
  assert.equal(doc.state, 'done');
});

test('Ctrl-C while waiting cancels the replay and exits 130', async () => {
  // One request every 4 s: the replay is still running when the signal comes.
  const run = spawnCli(['replay', '--rate', '0.25'], zones.envB);
  const started = await poll(
    () => Promise.resolve(/replay (\S+) started/.exec(run.stderr())),
    (m) => m !== null,
    400,
    25,
  );
  assert.ok(started, `the replay started; stderr: ${run.stderr()}`);
  run.child.kill('SIGINT');
  const { code } = await run.exit;
  assert.equal(code, 130, run.stderr());
  assert.match(run.stderr(), /cancelled/);
  assert.equal((await replayDoc(started[1]!)).state, 'cancelled');
});

test('a replay on a Record node explains that replays run on Playback nodes', async () => {
  const r = await cli(['replay'], zones.envA);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /404.*replays run on Playback nodes/);
});
