import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QProxyError } from '../../src/core/errors.js';
import { compileJsonPath } from '../../src/core/json-path.js';
import { Redactor } from '../../src/recording/redaction.js';
import { draft, expected, options } from './draft.js';

const JSON_CT: [string, string] = ['Content-Type', 'application/json; charset=utf-8'];

function redactJson(
  paths: string[],
  body: unknown,
  extra: { contentType?: string; truncated?: boolean } = {},
): { out: unknown; text: string; redacted: string[]; same: boolean } {
  const r = new Redactor(options({ jsonPaths: paths }));
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const input = draft({
    reqHeaders: [['Content-Type', extra.contentType ?? JSON_CT[1]]],
    reqBody: raw,
    reqTruncated: extra.truncated ?? false,
  });
  const { draft: result, redacted } = r.redactHttp(input);
  const text = result.request.body.data.toString();
  let out: unknown;
  try {
    out = JSON.parse(text);
  } catch {
    out = undefined;
  }
  return { out, text, redacted, same: result.request.body === input.request.body };
}

void describe('JSON path compilation', () => {
  void it('rejects unsupported paths with a coded error that names the path', () => {
    for (const bad of ['password', '$.', '$..', '$.a[', '$.a[-1]', '$.a[?(@.x)]', "$['unterminated]", '$ .a', '$.a..']) {
      assert.throws(
        () => compileJsonPath(bad),
        (err: unknown) => err instanceof QProxyError && err.code === 'QP_ERR_CONFIG' && err.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });

  void it('makes the Redactor constructor fail on a bad path', () => {
    assert.throws(() => new Redactor(options({ jsonPaths: ['$.ok', 'nope'] })), /"nope" is not supported/);
  });

  void it('accepts the supported forms', () => {
    for (const good of ['$', '$.a', '$.a.b', '$..a', '$..*', '$.*', '$[0]', '$.a[*].b', "$['x-y'].z", '$["a.b"]', '$..[0]']) {
      assert.equal(compileJsonPath(good).source, good);
    }
  });
});

void describe('JSON body redaction', () => {
  void it('redacts a nested member', () => {
    const { out, redacted } = redactJson(['$.user.ssn'], { user: { name: 'ann', ssn: '123-45-6789' }, ssn: 'top' });
    assert.deepEqual(out, { user: { name: 'ann', ssn: expected('123-45-6789') }, ssn: 'top' });
    assert.deepEqual(redacted, ['request.body$.user.ssn']);
  });

  void it('redacts a member at any depth with recursive descent', () => {
    const body = { token: 't0', a: { token: 't1', b: [{ token: 't2' }, { other: 1 }] }, c: 'token' };
    const { out } = redactJson(['$..token'], body);
    assert.deepEqual(out, {
      token: expected('t0'),
      a: { token: expected('t1'), b: [{ token: expected('t2') }, { other: 1 }] },
      c: 'token',
    });
  });

  void it('redacts array elements by index and by wildcard', () => {
    const body = { items: [{ card: '4111', id: 1 }, { card: '5500', id: 2 }, { id: 3 }], codes: ['a', 'b'] };
    const { out, redacted } = redactJson(['$.items[*].card', '$.codes[1]'], body);
    assert.deepEqual(out, {
      items: [{ card: expected('4111'), id: 1 }, { card: expected('5500'), id: 2 }, { id: 3 }],
      codes: ['a', expected('b')],
    });
    assert.deepEqual(redacted, ['request.body$.items[*].card', 'request.body$.codes[1]']);
  });

  void it('turns numbers into replacement strings and replaces leaves of objects and arrays recursively', () => {
    const body = { pin: 1234, card: { number: '4111', exp: { m: 12, y: 2030 }, valid: true, note: null }, list: [1, ['x']] };
    const { out } = redactJson(['$.pin', '$.card', '$.list'], body);
    assert.deepEqual(out, {
      pin: expected('1234'),
      card: { number: expected('4111'), exp: { m: expected('12'), y: expected('2030') }, valid: true, note: null },
      list: [expected('1'), [expected('x')]],
    });
  });

  void it('does not redact twice where paths overlap', () => {
    const { out } = redactJson(['$.user', '$..ssn'], { user: { ssn: 's' } });
    assert.deepEqual(out, { user: { ssn: expected('s') } });
  });

  void it('supports quoted member names and the root path', () => {
    assert.deepEqual(redactJson(["$['x-api.key']"], { 'x-api.key': 'k', x: 1 }).out, { 'x-api.key': expected('k'), x: 1 });
    assert.equal(redactJson(['$'], '"whole"').out, expected('whole'));
  });

  void it('redacts a "__proto__" member as an ordinary own member', () => {
    // Plain assignment to "__proto__" would be ignored and leave the secret in place.
    assert.equal(redactJson(['$.__proto__'], '{"__proto__":"s","a":1}').text, `{"__proto__":"${expected('s')}","a":1}`);
    assert.equal(
      redactJson(['$..secret'], '{"__proto__":{"secret":"s"},"a":1}').text,
      `{"__proto__":{"secret":"${expected('s')}"},"a":1}`,
    );
  });

  void it('is a no-op (same body object, no report) when no path matches', () => {
    const { same, redacted } = redactJson(['$.missing', '$.a.b.c', '$.list[5]', '$..nothing'], { a: { b: 1 }, list: [1] });
    assert.equal(same, true);
    assert.deepEqual(redacted, []);
  });

  void it('does not report a match on true/false/null (nothing to hide)', () => {
    const { same, redacted } = redactJson(['$.flag', '$.none'], { flag: true, none: null });
    assert.equal(same, true);
    assert.deepEqual(redacted, []);
  });

  void it('leaves a truncated JSON body untouched and reports the skip', () => {
    const { same, redacted } = redactJson(['$.password'], { password: 'p' }, { truncated: true });
    assert.equal(same, true);
    assert.deepEqual(redacted, ['request.body:skipped-truncated']);
  });

  void it('leaves invalid JSON untouched and reports the skip', () => {
    const { same, redacted } = redactJson(['$.password'], '{"password": "p", oops}');
    assert.equal(same, true);
    assert.deepEqual(redacted, ['request.body:skipped-invalid']);
  });

  void it('treats JSON that is not UTF-8 as invalid rather than corrupting it', () => {
    const r = new Redactor(options({ jsonPaths: ['$.a'] }));
    const bytes = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const input = draft({ reqHeaders: [JSON_CT], reqBody: bytes });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out.request.body, input.request.body);
    assert.deepEqual(redacted, ['request.body:skipped-invalid']);
  });

  void it('applies to +json media types and not to non-JSON types', () => {
    assert.deepEqual(redactJson(['$.a'], { a: 'x' }, { contentType: 'application/problem+json' }).out, { a: expected('x') });
    const plain = redactJson(['$.a'], { a: 'x' }, { contentType: 'text/plain' });
    assert.equal(plain.same, true);
    assert.deepEqual(plain.redacted, []);
  });

  void it('redacts response bodies and keeps size consistent with the new data', () => {
    const r = new Redactor(options({ jsonPaths: ['$.access_token'] }));
    const input = draft({
      resHeaders: [['content-type', 'application/json']],
      resBody: JSON.stringify({ access_token: 'a-very-long-token-value-that-shrinks-when-digested-0123456789', expires_in: 3600 }),
    });
    const { draft: out, redacted } = r.redactHttp(input);
    const body = out.response!.body;
    assert.deepEqual(JSON.parse(body.data.toString()), { access_token: expected('a-very-long-token-value-that-shrinks-when-digested-0123456789'), expires_in: 3600 });
    assert.equal(body.size, body.data.length);
    assert.deepEqual(redacted, ['response.body$.access_token']);
    assert.equal(out.request, input.request);
  });

  void it('skips compressed JSON bodies and reports them, without touching the bytes', () => {
    const r = new Redactor(options({ jsonPaths: ['$.a'] }));
    const input = draft({
      resHeaders: [['Content-Type', 'application/json'], ['Content-Encoding', 'br']],
      resBody: Buffer.from([0x1b, 0x02, 0x00]),
    });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out.response!.body, input.response!.body);
    assert.deepEqual(redacted, ['response.body:skipped-encoded']);
    // identity is no encoding at all
    const plain = draft({ resHeaders: [['Content-Type', 'application/json'], ['Content-Encoding', 'identity']], resBody: '{"a":"x"}' });
    assert.deepEqual(JSON.parse(r.redactHttp(plain).draft.response!.body.data.toString()), { a: expected('x') });
  });

  void it('does not read bodies when only header and query rules exist', () => {
    // Default rules only: a JSON body full of secrets is returned as the very same object.
    const r = new Redactor(options());
    const input = draft({ reqHeaders: [JSON_CT], reqBody: '{"password":"p","token":"t"}' });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out, input);
    assert.deepEqual(redacted, []);
  });

  void it('fails loudly (throws) on a body too deeply nested to walk, so the recorder can drop it', () => {
    const r = new Redactor(options({ jsonPaths: ['$..x'] }));
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    assert.throws(() => r.redactHttp(draft({ reqHeaders: [JSON_CT], reqBody: deep })), RangeError);
  });
});
