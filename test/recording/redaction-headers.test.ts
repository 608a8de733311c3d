import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QProxyError } from '../../src/core/errors.js';
import { DEFAULT_REDACTED_HEADERS, Redactor } from '../../src/recording/redaction.js';
import { draft, expected, options, snapshot } from './draft.js';

const MARKER = /^REDACTED:hmac-sha256:[0-9a-f]{16}$/;

void describe('header redaction', () => {
  const redactor = new Redactor(options());

  for (const name of DEFAULT_REDACTED_HEADERS) {
    void it(`redacts the default header ${name} in requests and responses`, () => {
      // Mixed case on the wire: matching is case-insensitive, the original case is kept.
      const wireName = name.toUpperCase();
      const input = draft({
        reqHeaders: [['Host', 'a.test'], [wireName, 'secretvalue']],
        resHeaders: [[wireName, 'secretvalue'], ['Content-Type', 'text/plain']],
      });
      const { draft: out, redacted } = redactor.redactHttp(input);
      const reqLine = out.request.headers[1]!;
      const resLine = out.response!.headers[0]!;
      assert.equal(reqLine[0], wireName);
      assert.equal(resLine[0], wireName);
      assert.notEqual(reqLine[1], 'secretvalue');
      assert.ok(reqLine[1].includes(expected('secretvalue')), reqLine[1]);
      assert.ok(resLine[1].includes(expected('secretvalue')), resLine[1]);
      assert.deepEqual(out.request.headers[0], ['Host', 'a.test']);
      assert.deepEqual(out.response!.headers[1], ['Content-Type', 'text/plain']);
      assert.deepEqual(redacted, [`request.headers.${name}`, `response.headers.${name}`]);
    });
  }

  void it('replaces a plain header value by exactly the keyed digest', () => {
    const { draft: out } = redactor.redactHttp(draft({ reqHeaders: [['X-Api-Key', 'k-123']] }));
    assert.equal(out.request.headers[0]![1], expected('k-123'));
    assert.match(out.request.headers[0]![1], MARKER);
  });

  void it('keeps the Authorization scheme and redacts the credentials', () => {
    const input = draft({
      reqHeaders: [
        ['Authorization', 'Bearer eyJhbGciOi.payload.sig'],
        ['Proxy-Authorization', 'Basic dXNlcjpwYXNz'],
      ],
    });
    const { draft: out } = redactor.redactHttp(input);
    assert.equal(out.request.headers[0]![1], `Bearer ${expected('eyJhbGciOi.payload.sig')}`);
    assert.equal(out.request.headers[1]![1], `Basic ${expected('dXNlcjpwYXNz')}`);
  });

  void it('replaces a bare Authorization token (no scheme) whole', () => {
    const { draft: out } = redactor.redactHttp(draft({ reqHeaders: [['authorization', 'abc123']] }));
    assert.equal(out.request.headers[0]![1], expected('abc123'));
  });

  void it('keeps cookie names and separators and redacts each value', () => {
    const input = draft({ reqHeaders: [['Cookie', 'session=s3cr3t; theme=dark;lang=en']] });
    const { draft: out } = redactor.redactHttp(input);
    assert.equal(
      out.request.headers[0]![1],
      `session=${expected('s3cr3t')}; theme=${expected('dark')};lang=${expected('en')}`,
    );
  });

  void it('redacts only the first pair of Set-Cookie and keeps its attributes', () => {
    const input = draft({
      resHeaders: [
        ['Set-Cookie', 'sid=abc; Path=/; HttpOnly; Secure; SameSite=Lax'],
        ['Set-Cookie', 'pref=x'],
      ],
    });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.equal(out.response!.headers[0]![1], `sid=${expected('abc')}; Path=/; HttpOnly; Secure; SameSite=Lax`);
    assert.equal(out.response!.headers[1]![1], `pref=${expected('x')}`);
    assert.deepEqual(redacted, ['response.headers.set-cookie']);
  });

  void it('gives equal digests for equal values and different digests for different values', () => {
    const input = draft({ reqHeaders: [['X-Auth-Token', 'same'], ['X-Api-Key', 'same'], ['Api-Key', 'other']] });
    const { draft: out } = redactor.redactHttp(input);
    const [a, b, c] = out.request.headers.map((l) => l[1]);
    assert.equal(a, b);
    assert.notEqual(a, c);
    // A second redactor with the same key digests the same way (nodes of one deployment agree).
    const again = new Redactor(options()).redactHttp(input).draft.request.headers[0]![1];
    assert.equal(again, a);
  });

  void it('gives different digests under different keys (string or Buffer)', () => {
    const input = draft({ reqHeaders: [['X-Api-Key', 'same']] });
    const other = new Redactor(options({ key: Buffer.from('another-key') })).redactHttp(input);
    const mine = redactor.redactHttp(input);
    assert.notEqual(other.draft.request.headers[0]![1], mine.draft.request.headers[0]![1]);
    assert.equal(other.draft.request.headers[0]![1], expected('same', Buffer.from('another-key')));
  });

  void it('redacts extra configured headers case-insensitively, on top of the defaults', () => {
    const r = new Redactor(options({ headers: ['X-Tenant-Secret'] }));
    const input = draft({ reqHeaders: [['x-tenant-secret', 'v1'], ['Cookie', 'a=1'], ['X-Other', 'v2']] });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out.request.headers[0]![1], expected('v1'));
    assert.equal(out.request.headers[1]![1], `a=${expected('1')}`);
    assert.equal(out.request.headers[2]![1], 'v2');
    assert.deepEqual(redacted, ['request.headers.x-tenant-secret', 'request.headers.cookie']);
  });

  void it('with replaceDefaults uses only the configured lists', () => {
    const r = new Redactor(options({ replaceDefaults: true, headers: ['x-only'] }));
    const input = draft({
      url: '/p?token=t1',
      reqHeaders: [['Authorization', 'Bearer t'], ['X-Only', 'v']],
    });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out.request.headers[0]![1], 'Bearer t');
    assert.equal(out.request.headers[1]![1], expected('v'));
    assert.equal(out.request.url, '/p?token=t1');
    assert.deepEqual(redacted, ['request.headers.x-only']);
  });

  void it('redacts trailers with the header list', () => {
    const input = draft({ reqTrailers: [['X-Auth-Token', 'late'], ['X-Checksum', 'abc']] });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.deepEqual(out.request.trailers, [['X-Auth-Token', expected('late')], ['X-Checksum', 'abc']]);
    assert.deepEqual(redacted, ['request.trailers.x-auth-token']);
  });

  void it('does not mutate the input draft', () => {
    const input = draft({
      url: '/x?token=1',
      reqHeaders: [['Authorization', 'Bearer t']],
      resHeaders: [['Set-Cookie', 'a=b']],
    });
    const before = snapshot(input);
    const { draft: out } = redactor.redactHttp(input);
    assert.equal(snapshot(input), before);
    assert.notEqual(out, input);
  });

  void it('returns the same draft, headers and bodies when nothing is secret', () => {
    const input = draft({ url: '/x?page=2', reqHeaders: [['Accept', '*/*']], reqBody: '{"a":1}', resBody: 'ok' });
    const { draft: out, redacted } = redactor.redactHttp(input);
    assert.equal(out, input);
    assert.deepEqual(redacted, []);
  });

  void it('leaves empty secret header values alone', () => {
    const { draft: out, redacted } = redactor.redactHttp(draft({ reqHeaders: [['Cookie', '']] }));
    assert.deepEqual(out.request.headers, [['Cookie', '']]);
    assert.deepEqual(redacted, []);
  });

  void it('stores everything as is when disabled (the key is not even needed)', () => {
    const r = new Redactor(options({ enabled: false, key: '' }));
    const input = draft({ url: '/x?token=abc', reqHeaders: [['Authorization', 'Bearer t']], resHeaders: [['Set-Cookie', 'a=b']] });
    const { draft: out, redacted } = r.redactHttp(input);
    assert.equal(out, input);
    assert.deepEqual(redacted, []);
    assert.equal(out.request.headers[0]![1], 'Bearer t');
  });

  void it('refuses an empty key when enabled, with a coded error', () => {
    for (const key of ['', Buffer.alloc(0)]) {
      assert.throws(
        () => new Redactor(options({ key })),
        (err: unknown) => err instanceof QProxyError && err.code === 'QP_ERR_CONFIG' && /redaction key is empty/.test(err.message),
      );
    }
  });

  void it('is idempotent: redacting a redacted draft changes nothing', () => {
    const once = redactor.redactHttp(draft({ reqHeaders: [['Authorization', 'Bearer t'], ['Cookie', 'a=b']] })).draft;
    const twice = redactor.redactHttp(once).draft;
    assert.deepEqual(twice.request.headers, once.request.headers);
  });

  void it('handles a draft without a response', () => {
    const { draft: out, redacted } = redactor.redactHttp(draft({ noResponse: true, reqHeaders: [['X-Api-Key', 'k']] }));
    assert.equal(out.response, null);
    assert.deepEqual(redacted, ['request.headers.x-api-key']);
  });
});
