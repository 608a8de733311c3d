import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_REDACTED_QUERY, Redactor } from '../../src/recording/redaction.js';
import type { HttpRecord } from '../../src/recording/model.js';
import { draft, expected, options } from './draft.js';

function redactUrl(url: string, r = new Redactor(options())): { url: string; redacted: string[] } {
  const { draft: out, redacted } = r.redactHttp(draft({ url }));
  return { url: out.request.url, redacted };
}

void describe('query parameter redaction', () => {
  for (const name of DEFAULT_REDACTED_QUERY) {
    void it(`redacts the default parameter ${name}`, () => {
      const { url, redacted } = redactUrl(`/p?a=1&${name}=s3cret&b=2`);
      assert.equal(url, `/p?a=1&${name}=${expected('s3cret')}&b=2`);
      assert.deepEqual(redacted, [`request.query.${name}`]);
    });
  }

  void it('keeps order, unrelated parameters, path and fragment byte-identical', () => {
    const { url } = redactUrl('/v1/x%20y;m=1?z=9&Token=abc&q=a+b%2Fc&flag&empty=#frag?token=no');
    assert.equal(url, `/v1/x%20y;m=1?z=9&Token=${expected('abc')}&q=a+b%2Fc&flag&empty=#frag?token=no`);
  });

  void it('redacts every occurrence of a repeated key, each to its own digest, listing the path once', () => {
    const { url, redacted } = redactUrl('/p?sig=one&x=1&sig=two&sig=one');
    assert.equal(url, `/p?sig=${expected('one')}&x=1&sig=${expected('two')}&sig=${expected('one')}`);
    assert.deepEqual(redacted, ['request.query.sig']);
  });

  void it('matches percent-encoded names and digests the decoded value', () => {
    // "acc%65ss_token" is "access_token"; the value decodes to "a b/c+d".
    const { url, redacted } = redactUrl('/p?acc%65ss_token=a+b%2Fc%2Bd&x=%zz');
    assert.equal(url, `/p?acc%65ss_token=${expected('a b/c+d')}&x=%zz`);
    assert.deepEqual(redacted, ['request.query.access_token']);
    // The same secret in a header and in the query digests alike.
    assert.equal(redactUrl('/p?token=a%20b').url, `/p?token=${expected('a b')}`);
  });

  void it('keeps a malformed escape as it is for the digest instead of failing', () => {
    assert.equal(redactUrl('/p?key=%E0%A4%A').url, `/p?key=${expected('%E0%A4%A')}`);
  });

  void it('matches names case-insensitively, including configured extras', () => {
    const r = new Redactor(options({ queryParams: ['Session_Id'] }));
    const { url, redacted } = redactUrl('/p?SESSION_ID=9&API_KEY=k', r);
    assert.equal(url, `/p?SESSION_ID=${expected('9')}&API_KEY=${expected('k')}`);
    assert.deepEqual(redacted, ['request.query.session_id', 'request.query.api_key']);
  });

  void it('leaves targets without a query or without values untouched', () => {
    for (const u of ['/plain', '/p?', '/p?token', '/p?token=', '/p?tokens=1&xkey=2']) {
      const { url, redacted } = redactUrl(u);
      assert.equal(url, u);
      assert.deepEqual(redacted, []);
    }
  });

  void it('redacts absolute-form targets and their userinfo password', () => {
    const { url, redacted } = redactUrl('http://bob:hunter2@api.test:8080/p?password=pw&x=1');
    assert.equal(url, `http://bob:${expected('hunter2')}@api.test:8080/p?password=${expected('pw')}&x=1`);
    assert.deepEqual(redacted, ['request.url.userinfo', 'request.query.password']);
    assert.equal(redactUrl('https://ghp_tok3n@git.test/').url, `https://${expected('ghp_tok3n')}@git.test/`);
    assert.equal(redactUrl('http://api.test/p@x').url, 'http://api.test/p@x');
  });

  void it('with replaceDefaults redacts only the configured names (and no userinfo)', () => {
    const r = new Redactor(options({ replaceDefaults: true, queryParams: ['mine'] }));
    const { url } = redactUrl('http://u:p@h/p?token=1&mine=2', r);
    assert.equal(url, `http://u:p@h/p?token=1&mine=${expected('2')}`);
  });
});

void describe('form body redaction', () => {
  const redactor = new Redactor(options());
  const form = ['Content-Type', 'application/x-www-form-urlencoded; charset=UTF-8'] as [string, string];

  void it('redacts form fields with the query parameter list, keeping the rest byte-identical', () => {
    const input = draft({ reqHeaders: [form], reqBody: 'user=bob&password=p%40ss+word&remember=on' });
    const { draft: out, redacted } = redactor.redactHttp(input);
    const text = out.request.body.data.toString();
    assert.equal(text, `user=bob&password=${expected('p@ss word')}&remember=on`);
    assert.equal(out.request.body.size, out.request.body.data.length);
    assert.equal(out.request.body.truncated, false);
    assert.deepEqual(redacted, ['request.body.form.password']);
  });

  void it('redacts what a truncated form body holds and keeps counting the cut-off bytes', () => {
    const input = draft({ reqHeaders: [form], reqBody: 'a=1&client_secret=abcdef', reqTruncated: true });
    const before = input.request.body;
    const { draft: out } = redactor.redactHttp(input);
    const body = out.request.body;
    assert.equal(body.data.toString(), `a=1&client_secret=${expected('abcdef')}`);
    assert.equal(body.truncated, true);
    assert.equal(body.size - body.data.length, before.size - before.data.length);
  });

  void it('does not treat other content types as forms', () => {
    const body = 'user=bob&password=secret';
    const input = draft({ reqHeaders: [['Content-Type', 'text/plain']], reqBody: body });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.equal(out.request.body, input.request.body);
    assert.deepEqual(redacted, []);
  });

  void it('skips a compressed form body and reports it', () => {
    const input = draft({ reqHeaders: [form, ['Content-Encoding', 'gzip']], reqBody: 'password=x' });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.equal(out.request.body, input.request.body);
    assert.deepEqual(redacted, ['request.body:skipped-encoded']);
  });
});

void describe('every shape of the request target gets the same redaction', () => {
  const redactor = new Redactor(options());

  void it('redacts the HTTP/2 :path like the url, reported under the same paths', () => {
    const target = '/leak?token=T0k&x=1&password=P4ss';
    const input = draft({ url: target, reqHeaders: [[':method', 'GET'], [':path', target], [':authority', 'api.test'], [':scheme', 'https']] });
    const { draft: out, redacted } = redactor.redactHttp(input);
    const clean = `/leak?token=${expected('T0k')}&x=1&password=${expected('P4ss')}`;
    assert.equal(out.request.url, clean);
    assert.deepEqual(out.request.headers, [[':method', 'GET'], [':path', clean], [':authority', 'api.test'], [':scheme', 'https']]);
    assert.deepEqual(redacted, ['request.query.token', 'request.query.password']);
  });

  void it('redacts userinfo in :authority and Host, taking the last "@" as its end', () => {
    const input = draft({ reqHeaders: [[':authority', 'bob:hunt@r2@api.test:8443'], ['Host', 'tok3n@api.test']] });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.deepEqual(out.request.headers, [
      [':authority', `bob:${expected('hunt@r2')}@api.test:8443`],
      ['Host', `${expected('tok3n')}@api.test`],
    ]);
    assert.deepEqual(redacted, ['request.headers.:authority', 'request.headers.host']);
    assert.equal(redactUrl('http://u:p@ss@h/').url, `http://u:${expected('p@ss')}@h/`);
  });

  void it('redacts URLs in Referer, Location and Content-Location, absolute or relative', () => {
    const input = draft({
      reqHeaders: [['Referer', 'https://app.test/cb?code=1&access_token=at']],
      resHeaders: [['Location', '/next?sig=s1#frag'], ['Content-Location', '//u:pw@cdn.test/x?key=k'], ['Link', '</p?token=kept>']],
    });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.deepEqual(out.request.headers, [['Referer', `https://app.test/cb?code=1&access_token=${expected('at')}`]]);
    assert.deepEqual(out.response!.headers, [
      ['Location', `/next?sig=${expected('s1')}#frag`],
      ['Content-Location', `//u:${expected('pw')}@cdn.test/x?key=${expected('k')}`],
      ['Link', '</p?token=kept>'],
    ]);
    assert.deepEqual(redacted, ['request.headers.referer', 'response.headers.location', 'response.headers.content-location']);
  });

  void it('keeps URL headers without secrets as the same objects (no copy)', () => {
    const input = draft({ url: '/a?b=1', reqHeaders: [[':path', '/a?b=1'], ['Host', 'h'], ['Referer', 'http://h/x']] });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.equal(out.request.headers, input.request.headers);
    assert.deepEqual(redacted, []);
  });

  void it('a header configured as secret is replaced whole, even one that holds a URL', () => {
    const r = new Redactor(options({ headers: ['Referer'] }));
    const { draft: out } = r.redactHttp(draft({ reqHeaders: [['Referer', 'http://h/?a=1']] }));
    assert.deepEqual(out.request.headers, [['Referer', expected('http://h/?a=1')]]);
  });
});

void describe('Redactor.redactRecord (records that did not pass the recorder: HAR imports)', () => {
  const redactor = new Redactor(options());
  const record = (url: string, redacted: string[]): HttpRecord => ({ ...draft({ url, reqHeaders: [['Cookie', 'a=1']] }), v: 1, id: 'r1', node_id: 'n', redacted });

  void it('redacts like the recorder and extends the record own list', () => {
    const out = redactor.redactRecord(record('/p?token=t', ['request.headers.x-old']));
    assert.equal(out.request.url, `/p?token=${expected('t')}`);
    assert.deepEqual(out.request.headers, [['Cookie', `a=${expected('1')}`]]);
    assert.deepEqual(out.redacted, ['request.headers.x-old', 'request.query.token', 'request.headers.cookie']);
    assert.equal(out.id, 'r1');
  });

  void it('leaves a record that was already redacted (an exported one) as it was', () => {
    const once = redactor.redactRecord(record('/p?token=t', []));
    assert.deepEqual(redactor.redactRecord(once), once);
  });
});
