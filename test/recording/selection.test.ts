import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { describe, it } from 'node:test';
import { keyFraction } from '../../src/recording/sampler.js';
import { RecordingSelector, type HttpRequestHead, type SelectionOptions, type SelectionRule, type SkipReason, type TcpSessionHead } from '../../src/recording/selector.js';

function head(over: Partial<HttpRequestHead> & { headers?: string[] } = {}): HttpRequestHead {
  return {
    method: over.method ?? 'GET',
    target: over.target ?? '/',
    rawHeaders: over.headers ?? over.rawHeaders ?? ['Host', 'api.example.com:8080'],
    client: over.client ?? { address: '10.1.2.3', port: 40000 },
    tls: over.tls ?? null,
  };
}

function tcp(address = '10.1.2.3', sni: string | null = null): TcpSessionHead {
  return { client: { address, port: 40000 }, tls: sni === null ? null : { sni, alpn: null, version: 'TLSv1.3' } };
}

function selector(opts: Partial<SelectionOptions>): { s: RecordingSelector; skips: Array<[string, SkipReason]> } {
  const skips: Array<[string, SkipReason]> = [];
  const s = RecordingSelector.create({
    include: [],
    exclude: [],
    sample: { rate: 1, key: null },
    observer: { skipped: (protocol, reason) => skips.push([protocol, reason]) },
    ...opts,
  });
  assert.ok(s !== null);
  return { s, skips };
}

function cidrs(...entries: string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [a, bits] = e.split('/');
    const type = a!.includes(':') ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(a!, type);
    else list.addSubnet(a!, Number(bits), type);
  }
  return list;
}

/** Whether one rule (used as the only exclude rule) matches the head. */
function matches(rule: SelectionRule, h: HttpRequestHead | TcpSessionHead): boolean {
  const { s } = selector({ exclude: [rule] });
  return 'method' in h ? !s.http(h) : !s.tcp(h);
}

void describe('RecordingSelector', () => {
  void it('selects everything without rules and at rate 1: no selector at all', () => {
    assert.equal(RecordingSelector.create({ include: [], exclude: [], sample: { rate: 1, key: null } }), null);
  });

  void it('decides not_included, then excluded, then sampled_out, counting each skip once', () => {
    let draw = 0.7;
    const { s, skips } = selector({
      include: [{ paths: ['/api/**'] }, { protocol: 'tcp' }],
      exclude: [{ paths: ['/api/health'] }],
      sample: { rate: 0.5, key: null },
      random: () => draw,
    });
    assert.equal(s.http(head({ target: '/other' })), false);
    assert.equal(s.http(head({ target: '/api/health?x=1' })), false);
    assert.equal(s.http(head({ target: '/api/orders/1' })), false, 'drawn 0.7 at rate 0.5');
    draw = 0.2;
    assert.equal(s.http(head({ target: '/api/orders/1' })), true);
    assert.equal(s.tcp(tcp()), true);
    assert.deepEqual(skips, [
      ['http', 'not_included'],
      ['http', 'excluded'],
      ['http', 'sampled_out'],
    ]);
  });

  void it('matches methods, hosts (port, case, absolute-form, :authority), paths and headers', () => {
    assert.equal(matches({ methods: ['POST', 'PUT'] }, head({ method: 'put' })), true);
    assert.equal(matches({ methods: ['POST'] }, head()), false);
    assert.equal(matches({ methods: ['*'] }, head({ method: 'PATCH' })), true);
    assert.equal(matches({ hosts: ['*.EXAMPLE.com'] }, head()), true);
    assert.equal(matches({ hosts: ['example.com'] }, head()), false);
    assert.equal(matches({ hosts: ['b.test'] }, head({ target: 'http://u@B.test:81/x', headers: ['Host', 'a.test'] })), true);
    assert.equal(matches({ hosts: ['h2.test'] }, head({ headers: [':authority', 'h2.test:443', ':path', '/'] })), true);
    assert.equal(matches({ hosts: ['::1'] }, head({ headers: ['Host', '[::1]:8080'] })), true);
    assert.equal(matches({ hosts: ['*'] }, head({ headers: [] })), false, 'no host at all: a host condition fails');
    assert.equal(matches({ paths: ['/orders/*'] }, head({ target: '/orders/7?x=1' })), true);
    assert.equal(matches({ paths: ['/orders/*'] }, head({ target: '/orders/7/items' })), false);
    assert.equal(matches({ paths: ['/orders/**'] }, head({ target: 'http://h/orders/7/items' })), true);
    const headers = ['Host', 'h', 'X-Env', 'canary-eu/1', 'x-debug', ''];
    assert.equal(matches({ headers: { 'x-debug': true } }, head({ headers })), true, 'present, even empty');
    assert.equal(matches({ headers: { 'x-env': 'canary-*' } }, head({ headers })), true, '"*" crosses "/" in values');
    assert.equal(matches({ headers: { 'x-env': 'prod*' } }, head({ headers })), false);
    assert.equal(matches({ headers: { 'x-debug': true, 'x-missing': true } }, head({ headers })), false, 'every header condition must hold');
  });

  void it('matches clients (CIDR, IPv4-mapped IPv6) and SNI for HTTP and TCP alike', () => {
    const clients = cidrs('10.0.0.0/8', 'fd00::/8');
    assert.equal(matches({ clients }, head()), true);
    assert.equal(matches({ clients }, head({ client: { address: '192.168.1.1', port: 1 } })), false);
    assert.equal(matches({ clients }, tcp('::ffff:10.9.9.9')), true);
    assert.equal(matches({ clients }, tcp('fd00::5')), true);
    assert.equal(matches({ sni: ['*.internal'] }, tcp('1.1.1.1', 'db.INTERNAL')), true);
    assert.equal(matches({ sni: ['*.internal'] }, tcp('1.1.1.1')), false, 'no SNI: an SNI condition fails');
    assert.equal(matches({ sni: ['api.test'] }, head({ tls: { sni: 'api.test', alpn: 'h2', version: 'TLSv1.3' } })), true);
  });

  void it('never matches a TCP session with a rule that has HTTP-only conditions, and keeps protocols apart', () => {
    assert.equal(matches({ paths: ['/**'] }, tcp()), false);
    assert.equal(matches({ methods: ['*'], clients: cidrs('10.0.0.0/8') }, tcp()), false);
    assert.equal(matches({ protocol: 'tcp' }, tcp()), true);
    assert.equal(matches({ protocol: 'tcp' }, head()), false);
    assert.equal(matches({ protocol: 'http' }, tcp()), false);
    assert.equal(matches({ protocol: 'http', clients: cidrs('10.1.2.3') }, head()), true);
  });

  void it('an include list with only HTTP rules leaves TCP sessions out', () => {
    const { s, skips } = selector({ include: [{ paths: ['/api/**'] }] });
    assert.equal(s.tcp(tcp()), false);
    assert.deepEqual(skips, [['tcp', 'not_included']]);
  });
});

void describe('sampling', () => {
  void it('rate 0 skips everything, keyed or not', () => {
    const { s, skips } = selector({ sample: { rate: 0, key: { kind: 'header', name: 'x-user' } } });
    assert.equal(s.http(head({ headers: ['x-user', 'ann'] })), false);
    assert.equal(s.tcp(tcp()), false);
    assert.deepEqual(skips, [['http', 'sampled_out'], ['tcp', 'sampled_out']]);
  });

  void it('keyed by a header: deterministic, all-or-nothing per value, header name case-insensitive', () => {
    const { s } = selector({ sample: { rate: 0.3, key: { kind: 'header', name: 'x-user-id' } }, random: () => assert.fail('a keyed draw never uses random') });
    for (let u = 0; u < 200; u++) {
      const id = `user-${u}`;
      const expected = keyFraction(id) < 0.3;
      for (const name of ['X-User-Id', 'x-user-id']) assert.equal(s.http(head({ headers: [name, id] })), expected, id);
    }
  });

  void it('keyed by a cookie, found among several Cookie fields (HTTP/2 crumbs)', () => {
    const { s } = selector({ sample: { rate: 0.5, key: { kind: 'cookie', name: 'sid' } }, random: () => assert.fail('keyed') });
    for (let i = 0; i < 50; i++) {
      const sid = `s${i}`;
      const headers = ['cookie', 'lang=en', 'cookie', ` theme=dark; sid=${sid} ; x=1`];
      assert.equal(s.http(head({ headers })), keyFraction(sid) < 0.5, sid);
    }
  });

  void it('keyed by client address for HTTP and TCP alike', () => {
    const { s } = selector({ sample: { rate: 0.5, key: { kind: 'client_address' } }, random: () => assert.fail('keyed') });
    for (let i = 0; i < 50; i++) {
      const address = `10.0.0.${i}`;
      const expected = keyFraction(address) < 0.5;
      assert.equal(s.http(head({ client: { address, port: 1 } })), expected);
      assert.equal(s.tcp(tcp(address)), expected);
      assert.equal(s.tcp(tcp(`::ffff:${address}`)), expected, 'the IPv4-mapped form is the same client');
    }
  });

  void it('draws at random without the key (and for TCP with a header key)', () => {
    let draw = 0.9;
    const { s } = selector({ sample: { rate: 0.5, key: { kind: 'header', name: 'x-user-id' } }, random: () => draw });
    assert.equal(s.http(head()), false);
    assert.equal(s.tcp(tcp()), false);
    draw = 0.1;
    assert.equal(s.http(head({ headers: ['x-user-id', ''] })), true, 'an empty key is no key');
    assert.equal(s.tcp(tcp()), true);
  });

  void it('spreads sequential keys evenly, and a key in the sample stays in at any higher rate', () => {
    const n = 20_000;
    const fractions = Array.from({ length: n }, (_, i) => keyFraction(`user-${i}`));
    for (const rate of [0.01, 0.1, 0.5]) {
      const taken = fractions.filter((f) => f < rate).length / n;
      assert.ok(Math.abs(taken - rate) < Math.max(0.005, rate * 0.1), `rate ${rate}: took ${taken}`);
    }
    assert.ok(fractions.every((f) => f >= 0 && f < 1));
    assert.equal(keyFraction('user-1'), keyFraction('user-1'));
    assert.notEqual(keyFraction('é'), keyFraction('e'));
  });
});
