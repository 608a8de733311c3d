import assert from 'node:assert/strict';
import { test } from 'node:test';
import { importHar, parseHarText } from '../../src/har/import.js';
import { fixtureText } from './har-helpers.js';

/** The parts of an entry the tests break. */
interface Entry {
  startedDateTime: string;
  request: { url?: string; method?: string; postData: { text: string } };
  response: { status?: number; content: { text?: string; encoding?: string } };
  _qproxy?: unknown;
}
type Doc = { log: { entries: Entry[] } };

function chrome(): Doc {
  return JSON.parse(fixtureText('chrome.har')) as Doc;
}

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: Error & { code?: string }) => {
    assert.equal(err.code, 'QP_ERR_HAR_INVALID');
    assert.match(err.message, message);
    return true;
  });
}

test('not JSON', () => {
  rejects(() => parseHarText('{"log": {"entries": [}'), /^the HAR file is not JSON \(.+\); export it again/);
  rejects(() => parseHarText(''), /not JSON/);
});

test('no log, entries not a list, not an object at all', () => {
  rejects(() => importHar({ entries: [] }), /^log: missing \(expected an object\)$/);
  rejects(() => importHar({ log: { entries: {} } }), /^log\.entries: expected a list, got an object$/);
  rejects(() => importHar({ log: {} }), /^log\.entries: missing \(expected a list\)$/);
  rejects(() => importHar('a string'), /^\(document\): expected an object, got "a string"$/);
});

test('an entry without request.url, method or response.status names its path', () => {
  const doc = chrome();
  delete doc.log.entries[1]!.request.url;
  rejects(() => importHar(doc), /^log\.entries\[1\]\.request\.url: missing \(expected a string\)$/);
  const noMethod = chrome();
  delete noMethod.log.entries[2]!.request.method;
  delete noMethod.log.entries[2]!.response.status;
  rejects(() => importHar(noMethod), /^log\.entries\[2\]\.request\.method: missing .*; log\.entries\[2\]\.response\.status: missing \(expected a number\)$/);
});

test('a relative or non-http URL', () => {
  for (const url of ['/api/items', 'ftp://files.example/x', 'https://', 'not a url']) {
    const doc = chrome();
    doc.log.entries[0]!.request.url = url;
    rejects(() => importHar(doc), /^log\.entries\[0\]\.request\.url: expected an absolute http\(s\) URL, got /);
  }
});

test('a bad startedDateTime', () => {
  for (const when of ['yesterday', '2024-02-30T10:00:00Z', '2024-05-01', '1969-12-31T23:59:59Z']) {
    const doc = chrome();
    doc.log.entries[2]!.startedDateTime = when;
    rejects(() => importHar(doc), /^log\.entries\[2\]\.startedDateTime: /);
  }
});

test('bad base64 in content or postData, and unknown encodings', () => {
  const doc = JSON.parse(fixtureText('non-utf8.har')) as Doc;
  doc.log.entries[0]!.response.content.text = 'not*base64!';
  rejects(() => importHar(doc), /^log\.entries\[0\]\.response\.content\.text: encoding is "base64" but the text is not valid base64$/);
  const post = JSON.parse(fixtureText('non-utf8.har')) as Doc;
  post.log.entries[0]!.request.postData.text = 'abc';
  rejects(() => importHar(post), /^log\.entries\[0\]\.request\.postData\.text: encoding is "base64"/);
  const other = JSON.parse(fixtureText('non-utf8.har')) as Doc;
  other.log.entries[0]!.response.content.encoding = 'hex';
  rejects(() => importHar(other), /^log\.entries\[0\]\.response\.content\.encoding: unsupported encoding "hex"/);
});

test('a malformed _qproxy block names its own path; many problems are counted', () => {
  const doc = chrome();
  doc.log.entries[0]!._qproxy = { id: 'no spaces allowed' };
  rejects(() => importHar(doc), /^log\.entries\[0\]\._qproxy\.id: expected a record id/);
  const many = { log: { entries: [1, 2, 3, 4, 5] } };
  rejects(() => importHar(many), /^log\.entries\[0\]: expected an object, got 1; .*; log\.entries\[2\]: .* \(and 2 more problems\)$/);
});
