/**
 * Issue 18, item 2: a HAR import (POST /api/records?format=har, `qproxy import --har`) goes through
 * the Playback node's redaction rules exactly like recorded traffic — headers, query, userinfo,
 * pseudo-headers, JSON and form bodies, body patterns — before anything is stored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { TOKEN, cli, startPlayback } from '../cli/helpers.js';
import { backend, httpRequest, tempDir } from '../e2e/helpers.js';

function secret(label: string): string {
  return `${label}${randomBytes(10).toString('hex')}`;
}

/** Every byte of the store's files: the index (with its -wal) and the payload segments in `<name>.db.segments/`. */
async function storeBytes(dir: string, name: string): Promise<Buffer> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && join(e.parentPath, e.name).startsWith(join(dir, `${name}.db`)));
  return Buffer.concat(await Promise.all(files.map((e) => readFile(join(e.parentPath, e.name)))));
}

interface ApiRecord {
  request: { url: string; headers: [string, string][]; body: { data: string } };
  response: { headers: [string, string][]; body: { data: string } } | null;
  redacted: string[];
}

const MARK = /REDACTED:hmac-sha256:[0-9a-f]{16}/;

test('imported HAR entries are redacted by the node rules, through the API and through qproxy import', async () => {
  const dir = await tempDir();
  const { url: downstream } = await backend();
  const node = await startPlayback(dir, 'importer', downstream, {
    recording: { redaction: { json_paths: ['$..password'], body_patterns: ['ssn=(\\d{3}-\\d{2}-\\d{4})'], headers: ['X-Session'] } },
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const canary = secret('canary');
  const s = {
    query: secret('qpw'),
    cookie: secret('cookie'),
    bearer: secret('bearer'),
    userinfo: secret('ui'),
    path: secret('path'),
    json: secret('json'),
    form: secret('form'),
    pattern: `${100 + randomBytes(1)[0]!}-42-${1000 + randomBytes(1)[0]!}`,
    extra: secret('xsession'),
    setCookie: secret('setcookie'),
    location: secret('loc'),
  };
  const started = '2024-05-01T12:00:00.000Z';
  const res = (headers: Array<{ name: string; value: string }> = []) => ({
    status: 200,
    statusText: 'OK',
    httpVersion: 'HTTP/1.1',
    headers,
    content: { size: 2, mimeType: 'text/plain', text: 'ok' },
  });
  const har = {
    log: {
      version: '1.2',
      creator: { name: 'test', version: '1' },
      entries: [
        {
          // A browser entry: query, cookie, authorization, userinfo, an extra configured header.
          startedDateTime: started,
          time: 5,
          request: {
            method: 'GET',
            url: `http://ann:${s.userinfo}@x.test/a?password=${s.query}&q=${canary}`,
            httpVersion: 'HTTP/1.1',
            headers: [
              { name: 'Cookie', value: `s=${s.cookie}` },
              { name: 'Authorization', value: `Bearer ${s.bearer}` },
              { name: 'X-Session', value: s.extra },
              { name: 'X-Canary', value: canary },
            ],
          },
          response: res([
            { name: 'Set-Cookie', value: `sid=${s.setCookie}; Path=/` },
            { name: 'Location', value: `/next?token=${s.location}` },
          ]),
        },
        {
          // QProxy's own export shape keeps HTTP/2 pseudo-headers: they are redacted like the url.
          startedDateTime: started,
          time: 5,
          request: {
            method: 'POST',
            url: `https://x.test/h2?token=${s.path}`,
            httpVersion: 'HTTP/2.0',
            headers: [
              { name: ':method', value: 'POST' },
              { name: ':path', value: `/h2?token=${s.path}` },
              { name: ':authority', value: 'x.test' },
              { name: 'content-type', value: 'application/json' },
            ],
            postData: { mimeType: 'application/json', text: JSON.stringify({ user: { password: s.json }, note: canary }) },
          },
          response: res(),
          _qproxy: { redacted: ['request.headers.x-earlier'] },
        },
        {
          // A form body and a text body pattern.
          startedDateTime: started,
          time: 5,
          request: {
            method: 'POST',
            url: 'http://x.test/form',
            httpVersion: 'HTTP/1.1',
            headers: [{ name: 'Content-Type', value: 'application/x-www-form-urlencoded' }],
            postData: { mimeType: 'application/x-www-form-urlencoded', text: `user=ann&password=${s.form}&ssn=${s.pattern}` },
          },
          response: res(),
        },
      ],
    },
  };

  const posted = await httpRequest(`${node.api}/api/records?format=har`, {
    method: 'POST',
    body: JSON.stringify(har),
    headers: { ...auth, 'content-type': 'application/json' },
  });
  assert.equal(posted.status, 201, posted.body);
  const { ids } = JSON.parse(posted.body) as { ids: string[] };
  assert.equal(ids.length, 3);

  const answers: string[] = [];
  for (const id of ids) answers.push((await httpRequest(`${node.api}/api/records/${id}`, { headers: auth })).body);
  const [browser, h2, form] = answers.map((a) => JSON.parse(a) as ApiRecord) as [ApiRecord, ApiRecord, ApiRecord];
  const text = answers.join('\n');
  assert.ok(text.includes(canary), 'the API answers hold the unredacted canary');
  for (const v of Object.values(s)) assert.equal(text.includes(v), false, `${v} reached the API answer`);

  assert.match(browser.request.url, new RegExp(`^/a\\?password=${MARK.source}&q=${canary}$`));
  assert.deepEqual(
    [...browser.redacted].sort(),
    ['request.headers.authorization', 'request.headers.cookie', 'request.headers.x-session', 'request.query.password', 'response.headers.location', 'response.headers.set-cookie'].sort(),
  );
  assert.match(browser.request.headers.find(([n]) => n === 'Cookie')![1], new RegExp(`^s=${MARK.source}$`), 'cookie names are kept');

  assert.match(h2.request.headers.find(([n]) => n === ':path')![1], new RegExp(`^/h2\\?token=${MARK.source}$`));
  assert.equal((JSON.parse(Buffer.from(h2.request.body.data, 'base64').toString()) as { note: string }).note, canary);
  assert.deepEqual(h2.redacted, ['request.headers.x-earlier', 'request.query.token', 'request.body$..password'], 'the entry list is kept and extended');

  assert.match(Buffer.from(form.request.body.data, 'base64').toString(), new RegExp(`^user=ann&password=${MARK.source}&ssn=${MARK.source}$`));
  assert.deepEqual(form.redacted, ['request.body.form.password', 'request.body/pattern:0']);

  // The same through the command line, with secrets of its own.
  const cliSecret = secret('clipw');
  const file = join(dir, 'more.har');
  const first = har.log.entries[0]!;
  const entry = { ...first, startedDateTime: '2024-05-01T13:00:00.000Z', request: { ...first.request, url: `http://x.test/cli?api_key=${cliSecret}` } };
  await writeFile(file, JSON.stringify({ log: { ...har.log, entries: [entry] } }));
  const imported = await cli(['import', '--har', file], { QPROXY_API_URL: node.api, QPROXY_API_TOKEN: TOKEN });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /^imported 1 records/m);
  const list = (await httpRequest(`${node.api}/api/records?limit=10`, { headers: auth })).body;
  assert.match(list, new RegExp(`/cli\\?api_key=${MARK.source}`));
  assert.equal(list.includes(cliSecret), false);

  const har2 = (await httpRequest(`${node.api}/api/records?format=har&limit=10`, { headers: auth })).body;
  for (const v of [...Object.values(s), cliSecret]) assert.equal(har2.includes(v), false, `${v} reached the HAR export`);

  const stored = await storeBytes(dir, 'importer');
  assert.ok(stored.includes(canary), 'the canary is in the store files, so the search sees stored bytes');
  for (const v of [...Object.values(s), cliSecret]) assert.equal(stored.includes(v), false, `${v} reached the store files`);
});
