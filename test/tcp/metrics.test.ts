import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/metrics/metrics.js';
import { SESSION_BUCKETS } from '../../src/metrics/tcp-metrics.js';

/** `name{labels} value` lines of the exposition, as a lookup. */
async function samples(m: Metrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await m.render()).split('\n')) {
    const match = /^(\S+) (\S+)$/.exec(line);
    if (match && !line.startsWith('#')) out.set(match[1]!, Number(match[2]));
  }
  return out;
}

test('the TCP observer feeds qproxy_tcp_* and the shared qproxy_proxy_bytes_total', async () => {
  const m = new Metrics({ collectDefault: false });
  const before = await samples(m);
  assert.equal(before.get('qproxy_tcp_connections_total{outcome="server_reset"}'), 0, 'every outcome is exported at 0');
  assert.equal(before.get('qproxy_proxy_bytes_total{protocol="tcp",direction="rx"}'), 0);
  assert.equal(before.get('qproxy_tcp_active_connections'), 0);

  m.tcp.session('open');
  m.tcp.session('open');
  m.tcp.session('open');
  m.tcp.bytes('c2s', 100);
  m.tcp.bytes('s2c', 250);
  m.tcp.bytes('s2c', 50);
  m.tcp.session('close', 'client_close', 0.002);
  m.tcp.session('close', 'connect_failed', 0.5);
  m.tcp.rejected('too_many_connections');
  m.http.exchange({ outcome: 'ok', status: 200, durationSec: 0.01, bytesIn: 7, bytesOut: 9 });

  const s = await samples(m);
  assert.equal(s.get('qproxy_tcp_connections_total{outcome="client_close"}'), 1);
  assert.equal(s.get('qproxy_tcp_connections_total{outcome="connect_failed"}'), 1);
  assert.equal(s.get('qproxy_tcp_active_connections'), 1);
  assert.equal(s.get('qproxy_tcp_session_duration_seconds_count'), 2);
  assert.equal(s.get(`qproxy_tcp_session_duration_seconds_bucket{le="${SESSION_BUCKETS[1]}"}`), 1);
  assert.equal(s.get('qproxy_tcp_rejected_total{reason="too_many_connections"}'), 1);
  assert.equal(s.get('qproxy_proxy_bytes_total{protocol="tcp",direction="rx"}'), 100);
  assert.equal(s.get('qproxy_proxy_bytes_total{protocol="tcp",direction="tx"}'), 300);
  assert.equal(s.get('qproxy_proxy_bytes_total{protocol="http",direction="rx"}'), 7);

  const r = m.resources();
  assert.equal(r.net_rx_bytes, 107, 'status network figures sum both protocols');
  assert.equal(r.net_tx_bytes, 309);
  assert.deepEqual(m.tcpTotals(), { sessions: 2, active: 1, errors: 1 });
});

test('the TCP observer ignores values that would break a scrape', async () => {
  const m = new Metrics({ collectDefault: false });
  m.tcp.session('close', 'bogus' as 'error', Number.NaN);
  m.tcp.session('close');
  m.tcp.bytes('c2s', -5);
  const s = await samples(m);
  assert.equal(s.get('qproxy_tcp_connections_total{outcome="error"}'), 2, 'unknown or missing reasons count as error');
  assert.equal(s.get('qproxy_tcp_active_connections'), 0, 'never below zero');
  assert.equal(s.get('qproxy_tcp_session_duration_seconds_count'), 0);
  assert.equal(s.get('qproxy_proxy_bytes_total{protocol="tcp",direction="rx"}'), 0);
});
