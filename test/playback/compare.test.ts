import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { compareHttp, type RecordedOutcome } from '../../src/playback/compare/compare-http.js';
import { compareTcp } from '../../src/playback/compare/compare-tcp.js';
import { compileRules } from '../../src/playback/compare/rules.js';
import type { CompareOptions, ResponseSide } from '../../src/playback/compare/types.js';
import type { HeaderLine } from '../../src/recording/model.js';
import { compareDefaults } from './helpers.js';

const MARK = 'REDACTED:hmac-sha256:0123456789abcdef';

function side(status: number, body: Buffer | string, headers: HeaderLine[] = [['content-type', 'application/json']], truncated = false): ResponseSide {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return { status, headers, body: { data, size: data.length + (truncated ? 500 : 0), truncated } };
}

function recorded(s: ResponseSide): RecordedOutcome {
  return { response: s, status: s.status, error: null };
}

function run(rec: ResponseSide, rep: ResponseSide, over: Partial<CompareOptions> = {}) {
  const rules = compileRules({ ...compareDefaults, ...over, ignore: { ...compareDefaults.ignore, ...over.ignore } });
  return compareHttp(recorded(rec), rep, rules, 8 * 1024 * 1024);
}

test('JSON bodies compare structurally: key order and whitespace do not count', () => {
  const out = run(side(200, '{"a":1,"b":{"x":[1,2],"y":"z"}}'), side(200, '{ "b": { "y": "z", "x": [1, 2] }, "a": 1 }'));
  assert.equal(out.match, true);
  assert.deepEqual(out.differences, []);
});

test('a changed field, a missing one, an added one and a type change are each named with their path', () => {
  const out = run(
    side(200, JSON.stringify({ price: 10, name: 'cup', tags: ['a', 'b'], meta: { v: 1 } })),
    side(200, JSON.stringify({ price: 12, tags: ['a', 'b', 'c'], meta: { v: '1' }, extra: true })),
  );
  assert.equal(out.match, false);
  const lines = out.differences.map((d) => d.line);
  assert.ok(lines.includes('$.price: 10 → 12'), lines.join('\n'));
  assert.ok(lines.includes('$.name: "cup" → (missing)'), lines.join('\n'));
  assert.ok(lines.includes('$.extra: (absent) → true'), lines.join('\n'));
  assert.ok(lines.includes('$.tags: 2 items → 3 items'), lines.join('\n'));
  assert.ok(lines.includes('$.meta.v: 1 → "1" (number → string)'), lines.join('\n'));
  assert.deepEqual(
    out.differences.map((d) => d.kind).sort(),
    ['json $.extra', 'json $.meta.v', 'json $.name', 'json $.price', 'json $.tags[length]'].sort(),
  );
});

test('array indices are folded into [*] in the kind, so differences aggregate across records', () => {
  const out = run(side(200, '{"items":[{"id":1,"p":1},{"id":2,"p":2}]}'), side(200, '{"items":[{"id":1,"p":9},{"id":2,"p":8}]}'));
  assert.deepEqual(out.differences.map((d) => d.kind), ['json $.items[*].p', 'json $.items[*].p']);
  assert.equal(out.differences[1]!.line, '$.items[1].p: 2 → 8');
});

test('ignore rules: JSON paths ($.field, $..id), header names and regular expressions', () => {
  const rec = side(200, JSON.stringify({ ts: '2024-01-01', a: { id: 1, b: [{ id: 2 }] }, msg: 'req 1234 ok' }), [
    ['content-type', 'application/json'],
    ['x-request-id', 'aaa'],
  ]);
  const rep = side(200, JSON.stringify({ ts: '2025-02-02', a: { id: 7, b: [{ id: 8 }] }, msg: 'req 9876 ok' }), [
    ['content-type', 'application/json'],
    ['x-request-id', 'bbb'],
  ]);
  assert.equal(run(rec, rep, { headers: ['*'] }).match, false);
  const out = run(rec, rep, {
    headers: ['*'],
    ignore: { headers: ['x-request-id'], json_paths: ['$.ts', '$..id'], patterns: ['\\d{4}'] },
  });
  assert.equal(out.match, true, out.differences.map((d) => d.line).join('\n'));
});

test('only content-type is compared by default: Date, ids and counters do not count', () => {
  const rec = side(200, '{}', [['content-type', 'application/json'], ['date', 'Mon, 01 Jan 2024 00:00:00 GMT'], ['x-count', '1']]);
  const rep = side(200, '{}', [['Content-Type', 'application/json'], ['date', 'Tue, 02 Jan 2024 00:00:00 GMT'], ['x-count', '2']]);
  assert.equal(run(rec, rep).match, true);
  const typed = run(rec, side(200, '{}', [['content-type', 'text/html']]));
  assert.deepEqual(typed.differences.map((d) => d.line), ['header content-type: "application/json" → "text/html"']);
});

test('values redacted at record time are wildcards in headers, JSON and text', () => {
  const rec = side(200, JSON.stringify({ token: MARK, user: 'ann', note: `key=${MARK};` }), [
    ['content-type', 'application/json'],
    ['set-cookie', `sid=${MARK}; Path=/`],
  ]);
  const rep = side(200, JSON.stringify({ token: 'real-secret', user: 'ann', note: 'key=abc;' }), [
    ['content-type', 'application/json'],
    ['set-cookie', 'sid=xyz; Path=/'],
  ]);
  assert.equal(run(rec, rep, { headers: ['content-type', 'set-cookie'] }).match, true);
  const cookiePathChanged = run(rec, side(200, rep.body.data, [['content-type', 'application/json'], ['set-cookie', 'sid=xyz; Path=/x']]), {
    headers: ['set-cookie'],
  });
  assert.equal(cookiePathChanged.match, false, 'the text around a redacted value still counts');
  const text = run(side(200, `hello ${MARK} bye`, [['content-type', 'text/plain']]), side(200, 'hello there bye', [['content-type', 'text/plain']]));
  assert.equal(text.match, true);
});

test('compressed bodies compare decoded: gzip vs identity, br vs deflate', () => {
  const doc = JSON.stringify({ a: 1, list: Array.from({ length: 50 }, (_, i) => i) });
  const gz = side(200, gzipSync(doc), [['content-type', 'application/json'], ['content-encoding', 'gzip']]);
  assert.equal(run(gz, side(200, doc)).match, true);
  const br = side(200, brotliCompressSync(doc), [['content-type', 'application/json'], ['content-encoding', 'br']]);
  const df = side(200, deflateSync(doc), [['content-type', 'application/json'], ['content-encoding', 'deflate']]);
  assert.equal(run(br, df).match, true);
  const changed = run(gz, side(200, doc.replace('"a":1', '"a":2')));
  assert.deepEqual(changed.differences.map((d) => d.line), ['$.a: 1 → 2']);
});

test('status differences and non-JSON text differences read well', () => {
  const out = run(side(404, 'not here', [['content-type', 'text/plain']]), side(500, 'oops, broken', [['content-type', 'text/plain']]));
  assert.equal(out.differences[0]!.line, 'status: 404 → 500');
  assert.match(out.differences[1]!.line, /^body: 8 B → 12 B, first difference at character 0: "not here" → "oops, broken"$/);
  assert.equal(run(side(404, ''), side(500, ''), { status: false }).match, true);
});

test('binary bodies: equal bytes match, a changed byte is shown in hex with its offset', () => {
  const a = Buffer.from([0, 1, 2, 3, 0xff, 5, 6]);
  const b = Buffer.from([0, 1, 2, 3, 0xfe, 5, 6]);
  const h: HeaderLine[] = [['content-type', 'application/octet-stream']];
  assert.equal(run(side(200, a, h), side(200, Buffer.from(a), h)).match, true);
  const out = run(side(200, a, h), side(200, b, h));
  assert.match(out.differences[0]!.line, /first difference at byte 4: ff0506 → fe0506/);
});

test('a body truncated at record time is compared as a prefix and the result is marked', () => {
  const full = 'x'.repeat(100) + 'TAIL';
  const rec = side(200, full.slice(0, 64), [['content-type', 'text/plain']], true);
  const same = run(rec, side(200, full, [['content-type', 'text/plain']]));
  assert.equal(same.match, true);
  assert.equal(same.truncated, true);
  assert.match(same.notes[0]!, /recorded body was truncated: compared the first 64 B only/);
  const other = run(rec, side(200, `y${full.slice(1)}`, [['content-type', 'text/plain']]));
  assert.equal(other.match, false);
  assert.equal(other.truncated, true);
  const skipped = run(rec, side(200, 'anything', [['content-type', 'text/plain']]), { truncated: 'skip' });
  assert.equal(skipped.match, true);
  assert.match(skipped.notes[0]!, /body not compared/);
});

test('a recorded failure (no response in zone A) does not match an answer', () => {
  const rules = compileRules(compareDefaults);
  const out = compareHttp({ response: null, status: 504, error: { code: 'QP_ERR_DOWNSTREAM_TIMEOUT', message: 't' } }, side(200, '{}'), rules, 1024);
  assert.equal(out.match, false);
  assert.match(out.differences[0]!.line, /no response was recorded \(QP_ERR_DOWNSTREAM_TIMEOUT, answered 504\) → replay got 200/);
});

test('TCP byte streams compare exactly, by length, or as a prefix when the recording was truncated', () => {
  const rec = Buffer.from('+OK\r\n$3\r\nbar\r\n');
  assert.equal(compareTcp(rec, Buffer.from(rec), 'exact', false).match, true);
  const changed = compareTcp(rec, Buffer.from('+OK\r\n$3\r\nbaz\r\n'), 'exact', false);
  assert.equal(changed.match, false);
  assert.match(changed.differences[0]!.line, /^server bytes: 14 B → 14 B, first difference at character 11/);
  assert.equal(compareTcp(rec, Buffer.from('+OK\r\n$3\r\nbaz\r\n'), 'length', false).match, true);
  assert.equal(compareTcp(rec, Buffer.from('+OK\r\n'), 'length', false).match, false);
  assert.equal(compareTcp(rec.subarray(0, 5), rec, 'exact', true).match, true);
  assert.equal(compareTcp(rec, Buffer.concat([rec, Buffer.from('extra')]), 'exact', false).match, false);
});
