import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QProxyError } from '../../src/core/errors.js';
import { Redactor } from '../../src/recording/redaction.js';
import type { HeaderLine } from '../../src/recording/model.js';
import { draft, expected, options } from './draft.js';

function redactText(patterns: string[], body: string | Buffer, contentType = 'text/plain'): { text: string; data: Buffer; redacted: string[]; same: boolean } {
  const r = new Redactor(options({ replaceDefaults: true, bodyPatterns: patterns }));
  const headers: HeaderLine[] = [['Content-Type', contentType]];
  const input = draft({ resHeaders: headers, resBody: body });
  const { draft: out, redacted } = r.redactHttp(input);
  const data = out.response!.body.data;
  return { text: data.toString(), data, redacted, same: out.response!.body === input.response!.body };
}

void describe('body pattern redaction', () => {
  void it('replaces each whole match by its digest when the pattern has no group', () => {
    const { text, redacted } = redactText(['\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b'], 'cards: 4111-1111-1111-1111 and 5500-0000-0000-0004.');
    assert.equal(text, `cards: ${expected('4111-1111-1111-1111')} and ${expected('5500-0000-0000-0004')}.`);
    assert.deepEqual(redacted, ['response.body/pattern:0']);
  });

  void it('replaces only group 1 when the pattern has a group', () => {
    const { text } = redactText(['ssn=(\\d+)'], 'name=ann ssn=123456789 ssn=42');
    assert.equal(text, `name=ann ssn=${expected('123456789')} ssn=${expected('42')}`);
  });

  void it('skips matches whose group did not take part, and empty matches', () => {
    assert.equal(redactText(['pin(?:=(\\d+))?'], 'pin pin=77').text, `pin pin=${expected('77')}`);
    const empty = redactText(['x*'], 'abc');
    assert.equal(empty.same, true);
    assert.deepEqual(empty.redacted, []);
  });

  void it('reports each pattern that matched by its index', () => {
    const { text, redacted } = redactText(['nomatch', 'secret-\\w+', 'key:(\\w+)'], 'secret-abc key:def');
    assert.equal(text, `${expected('secret-abc')} key:${expected('def')}`);
    assert.deepEqual(redacted, ['response.body/pattern:1', 'response.body/pattern:2']);
  });

  void it('runs over JSON, XML and form bodies as text', () => {
    assert.equal(redactText(['"pan":"(\\d+)"'], '{"pan":"4111"}', 'application/json').text, `{"pan":"${expected('4111')}"}`);
    assert.equal(redactText(['<pw>([^<]*)</pw>'], '<a><pw>x y</pw></a>', 'application/soap+xml').text, `<a><pw>${expected('x y')}</pw></a>`);
    assert.equal(redactText(['otp=(\\d+)'], 'otp=123456', 'application/x-www-form-urlencoded').text, `otp=${expected('123456')}`);
  });

  void it('leaves binary media types alone', () => {
    const r = redactText(['secret'], 'secret', 'application/octet-stream');
    assert.equal(r.same, true);
    assert.deepEqual(r.redacted, []);
    assert.equal(redactText(['secret'], 'secret', 'image/png').same, true);
  });

  void it('keeps the bytes of a body that is not UTF-8', () => {
    const body = Buffer.concat([Buffer.from([0xe9, 0x00, 0xff]), Buffer.from(' token=abc '), Buffer.from([0xfe])]);
    const { data } = redactText(['token=(\\w+)'], body, 'text/plain; charset=iso-8859-1');
    const want = Buffer.concat([Buffer.from([0xe9, 0x00, 0xff]), Buffer.from(` token=${expected('abc')} `), Buffer.from([0xfe])]);
    assert.deepEqual(data, want);
  });

  void it('applies to request bodies too, after JSON paths', () => {
    const r = new Redactor(options({ jsonPaths: ['$.password'], bodyPatterns: ['"email":"([^"]+)"'] }));
    const input = draft({ reqHeaders: [['Content-Type', 'application/json']], reqBody: '{"email":"a@b.c","password":"pw"}' });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out.request.body.data.toString(), `{"email":"${expected('a@b.c')}","password":"${expected('pw')}"}`);
    assert.deepEqual(redacted, ['request.body$.password', 'request.body/pattern:0']);
  });

  void it('reuses compiled patterns safely across calls (no lastIndex carry-over)', () => {
    const r = new Redactor(options({ bodyPatterns: ['tok-\\d'] }));
    for (let i = 0; i < 3; i++) {
      const { draft: out } = r.redactHttp(draft({ resBody: 'tok-1' }));
      assert.equal(out.response!.body.data.toString(), expected('tok-1'));
    }
  });

  void it('rejects an invalid pattern at construction with a coded error', () => {
    assert.throws(
      () => new Redactor(options({ bodyPatterns: ['ok', '(unclosed'] })),
      (err: unknown) => err instanceof QProxyError && err.code === 'QP_ERR_CONFIG' && err.message.includes('#1') && err.message.includes('(unclosed'),
    );
  });
});
