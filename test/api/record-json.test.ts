import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyToJson, completeUtf8Length, recordToJson } from '../../src/api/record-json.js';
import { makeRecord } from './api-helpers.js';

test('a UTF-8 body gets base64 and its text', () => {
  const data = Buffer.from('{"city":"Zürich","emoji":"🚀"}');
  assert.deepEqual(bodyToJson({ data, size: data.length, truncated: false }), {
    encoding: 'base64',
    data: data.toString('base64'),
    size: data.length,
    truncated: false,
    text: '{"city":"Zürich","emoji":"🚀"}',
  });
});

test('a binary body gets base64 only', () => {
  const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const json = bodyToJson({ data, size: 100, truncated: true });
  assert.equal(json.text, undefined);
  assert.equal(Buffer.from(json.data, 'base64').equals(data), true);
  assert.equal(json.size, 100);
  assert.equal(json.truncated, true);
});

test('an empty body has empty data and empty text', () => {
  assert.deepEqual(bodyToJson({ data: Buffer.alloc(0), size: 0, truncated: false }), {
    encoding: 'base64',
    data: '',
    size: 0,
    truncated: false,
    text: '',
  });
});

test('a truncated body cut inside a character keeps the text before it, and all bytes in data', () => {
  const full = Buffer.from('price: 5€ 🚀');
  for (let cut = full.length - 1; cut >= full.length - 6; cut--) {
    const data = full.subarray(0, cut);
    const json = bodyToJson({ data, size: full.length, truncated: true });
    assert.equal(Buffer.from(json.data, 'base64').length, cut, `cut ${cut}: data keeps every byte`);
    assert.ok(json.text !== undefined, `cut ${cut}: text present`);
    assert.ok(full.toString('utf8').startsWith(json.text), `cut ${cut}: text is a prefix`);
    assert.ok(Buffer.byteLength(json.text) >= cut - 3, `cut ${cut}: at most one partial character left out`);
  }
});

test('a non-truncated body with a partial character at the end is not text', () => {
  const data = Buffer.from('5€').subarray(0, 3);
  assert.equal(bodyToJson({ data, size: 3, truncated: false }).text, undefined);
});

test('completeUtf8Length drops only an incomplete trailing sequence', () => {
  assert.equal(completeUtf8Length(Buffer.from('abc')), 3);
  assert.equal(completeUtf8Length(Buffer.from('a€')), 4);
  assert.equal(completeUtf8Length(Buffer.from('a€').subarray(0, 3)), 1);
  assert.equal(completeUtf8Length(Buffer.from('🚀').subarray(0, 3)), 0);
  assert.equal(completeUtf8Length(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80])), 5, 'no lead byte: left to isUtf8');
  assert.equal(completeUtf8Length(Buffer.alloc(0)), 0);
});

test('recordToJson converts both bodies, keeps every other field, and handles a missing response', () => {
  const record = makeRecord(Date.parse('2024-05-01T00:00:00Z'), { reqBody: Buffer.from('a=1') });
  const json = recordToJson(record);
  assert.equal(json.request.body.text, 'a=1');
  assert.equal(json.response?.body.text, '{"ok":true}');
  assert.deepEqual({ ...json, request: null, response: null }, { ...record, request: null, response: null });
  assert.deepEqual(json.request.headers, record.request.headers);
  const failed = recordToJson({ ...record, response: null, status: 502, error: { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'refused' } });
  assert.equal(failed.response, null);
  assert.equal(failed.status, 502);
  assert.deepEqual((JSON.parse(JSON.stringify(failed)) as typeof failed).error, { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'refused' });
});
