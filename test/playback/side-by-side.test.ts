/**
 * The side-by-side view of a recorded and a replayed answer (the web UI's diff), the endpoint keys
 * results are ranked under, and the results file's upgrade that keeps mismatching answers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { sideBySide } from '../../src/playback/compare/side-by-side.js';
import type { CompareOptions, ResponseSide } from '../../src/playback/compare/types.js';
import { ResultsReader } from '../../src/playback/results/reader.js';
import { ResultsWriterDb } from '../../src/playback/results/writer-db.js';
import { endpointKey } from '../../src/playback/stats/endpoint-key.js';
import { REDACTION_PREFIX } from '../../src/recording/redaction-digest.js';
import type { HeaderLine } from '../../src/recording/model.js';

const RULES: CompareOptions = {
  status: true,
  headers: ['content-type', 'x-version'],
  body: true,
  ignore: { headers: ['x-version'], json_paths: ['$.meta', '$.items[*].at'], patterns: ['req-[0-9]+'] },
  truncated: 'prefix',
};

function side(status: number, body: string | Buffer, headers: HeaderLine[] = [['Content-Type', 'application/json']]): ResponseSide {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  return { status, headers, body: { data, size: data.length, truncated: false } };
}

describe('side by side', () => {
  test('JSON fields: same, differs, ignored by path or pattern, redacted, and present on one side only', () => {
    const marker = `${REDACTION_PREFIX}0123456789abcdef`;
    const recorded = side(200, JSON.stringify({ id: 1, token: marker, trace: 'req-17', meta: { took: 3 }, items: [{ p: 10, at: 't1' }], gone: true, empty: {} }));
    const replayed = side(200, JSON.stringify({ id: 1, token: 'live-secret', trace: 'req-99', meta: { took: 5, host: 'b' }, items: [{ p: 12, at: 't2' }], empty: {}, added: [1] }));
    const v = sideBySide(recorded, replayed, RULES, 1 << 20);
    assert.equal(v.body.kind, 'json');
    if (v.body.kind !== 'json') return;
    assert.deepEqual(
      v.body.fields.map((f) => [f.name, f.state]),
      [
        ['$.id', 'same'],
        ['$.token', 'redacted'],
        ['$.trace', 'same'],
        ['$.meta.took', 'ignored'],
        ['$.items[0].p', 'differs'],
        ['$.items[0].at', 'ignored'],
        ['$.gone', 'differs'],
        ['$.empty', 'same'],
        ['$.meta.host', 'ignored'],
        ['$.added[0]', 'differs'],
      ],
    );
    const gone = v.body.fields.find((f) => f.name === '$.gone')!;
    assert.equal(gone.recorded, 'true');
    assert.equal(gone.replayed, null);
    assert.equal(v.body.more, 0);
  });

  test('status and headers: selected headers compared, the rest ignored; decoded bodies compared as content', () => {
    const recorded = side(200, '{"a":1}', [['Content-Type', 'application/json'], ['X-Version', '1'], ['Date', 'Mon']]);
    const zipped = gzipSync(Buffer.from('{"a":1}'));
    const replayed = side(201, zipped, [['content-type', 'text/json'], ['x-version', '2'], ['content-encoding', 'gzip']]);
    const v = sideBySide(recorded, replayed, RULES, 1 << 20);
    assert.deepEqual(v.status, { recorded: 200, replayed: 201, compared: true, differs: true });
    assert.deepEqual(
      v.headers.map((h) => [h.name, h.recorded, h.replayed, h.state]),
      [
        ['content-encoding', null, 'gzip', 'ignored'],
        ['content-type', 'application/json', 'text/json', 'differs'],
        ['date', 'Mon', null, 'ignored'],
        ['x-version', '1', '2', 'ignored'],
      ],
    );
    assert.equal(v.body.kind, 'json', 'the gzip body was decoded before comparing');
    if (v.body.kind === 'json') assert.deepEqual(v.body.fields.map((f) => f.state), ['same']);
  });

  test('non-JSON bodies are compared whole; compare.body false leaves the body out', () => {
    assert.deepEqual(sideBySide(side(200, 'hello req-1', []), side(200, 'hello req-2', []), RULES, 1 << 20).body, { kind: 'other', differs: false });
    assert.deepEqual(sideBySide(side(200, 'hello', []), side(200, 'bye', []), RULES, 1 << 20).body, { kind: 'other', differs: true });
    assert.deepEqual(sideBySide(side(200, 'a', []), side(200, 'b', []), { ...RULES, body: false }, 1 << 20).body, { kind: 'not_compared' });
  });
});

describe('endpoint keys', () => {
  test('method and path without the query; id-like segments folded', () => {
    assert.equal(endpointKey('http', 'GET', '/api/users/42?x=1'), 'GET /api/users/{id}');
    assert.equal(endpointKey('http', 'DELETE', '/o/0f8fad5b-d9cb-469f-a165-70867728950e/items/9f86d081884c7d659a2feaa0'), 'DELETE /o/{id}/items/{id}');
    assert.equal(endpointKey('http', 'GET', '/static/app.js'), 'GET /static/app.js');
    assert.equal(endpointKey('http', 'GET', '/docs/getting-started'), 'GET /docs/getting-started');
    assert.equal(endpointKey('http', 'GET', '/'), 'GET /');
    assert.equal(endpointKey('http', null, null), '(record gone)');
    assert.equal(endpointKey('tcp', null, 'db:5432'), 'tcp db:5432');
  });
});

describe('results file', () => {
  test('a version 1 file is upgraded in place: results kept, answers of mismatches stored and read back', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'qproxy-results-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'r.playback.db');
    const v1 = new Database(path);
    v1.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1');
      CREATE TABLE replays (id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER, doc TEXT NOT NULL);
      CREATE INDEX replays_created ON replays (created_at);
      CREATE TABLE results (seq INTEGER PRIMARY KEY AUTOINCREMENT, replay_id TEXT NOT NULL, record_id TEXT NOT NULL, protocol TEXT NOT NULL, status TEXT NOT NULL,
        method TEXT, target TEXT, recorded_status INTEGER, replayed_status INTEGER, recorded_ms REAL, replayed_ms REAL, lateness_ms REAL,
        truncated INTEGER NOT NULL, kinds TEXT NOT NULL, diff TEXT, error TEXT, at INTEGER NOT NULL);
      CREATE INDEX results_replay ON results (replay_id, seq);
      CREATE INDEX results_replay_status ON results (replay_id, status, seq);
      CREATE INDEX results_at ON results (at);
      INSERT INTO results (replay_id, record_id, protocol, status, truncated, kinds, at) VALUES ('r1', 'old', 'http', 'match', 0, '[]', 1);`);
    v1.close();

    const writer = new ResultsWriterDb(path);
    const base = { replay_id: 'r1', protocol: 'http' as const, method: 'GET', target: '/x', recorded_status: 200, replayed_status: 200, recorded_ms: 1, replayed_ms: 2, lateness_ms: 0, error: null, at: 2 };
    writer.write(
      [{ ...base, record_id: 'new', status: 'mismatch', truncated: false, kinds: ['json $.v'], diff: '$.v: 1 → 2' }],
      [],
      [],
      [{ replay_id: 'r1', record_id: 'new', status: 200, headers: JSON.stringify([['Content-Type', 'application/json']]), body: Buffer.from('{"v":2}'), size: 7, truncated: false, at: 2 }],
    );
    const reader = new ResultsReader(path);
    t.after(() => {
      reader.close();
      writer.close();
    });
    assert.equal(reader.getMeta('schema_version'), '2');
    assert.equal(reader.result('r1', 'old')?.status, 'match', 'results of version 1 are kept');
    assert.deepEqual(reader.result('r1', 'new')?.kinds, ['json $.v']);
    assert.equal(reader.answer('r1', 'old'), null);
    const answer = reader.answer('r1', 'new');
    assert.deepEqual(answer && { ...answer, body: answer.body.toString() }, { status: 200, headers: [['Content-Type', 'application/json']], body: '{"v":2}', size: 7, truncated: false });
    writer.deleteReplay('r1');
    assert.equal(reader.answer('r1', 'new'), null, 'deleting a replay deletes its answers');
  });
});
