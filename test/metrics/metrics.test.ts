import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { CpuWindow } from '../../src/metrics/cpu-window.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { MAX_REASONS, OTHER_REASON } from '../../src/metrics/reason-counter.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format 0.0.4: every line is a HELP, a TYPE or a sample,
 * and every sample belongs to a family announced by a TYPE line.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a valid exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = m[2] ?? '';
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
    let consumed = 0;
    for (let match = labelRe.exec(labelText); match; match = labelRe.exec(labelText)) {
      labels[match[1]!] = match[2]!;
      consumed = labelRe.lastIndex;
    }
    assert.equal(consumed, labelText.length, `bad labels: ${line}`);
    // Go's ParseFloat, which Prometheus uses, reads NaN and Inf in any letter case.
    const raw = m[3]!.toLowerCase();
    const value = raw === 'nan' ? Number.NaN : /^[+-]?inf$/.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
    assert.ok(raw === 'nan' || !Number.isNaN(value), `bad value: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]!) || types.has(family), `sample without TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length >= Object.keys(labels).length,
  )?.value;
}

function feed(m: Metrics): void {
  m.http.exchange({ outcome: 'ok', status: 200, durationSec: 0.003, bytesIn: 100, bytesOut: 2000 });
  m.http.exchange({ outcome: 'ok', status: 404, durationSec: 0.0004, bytesIn: 50, bytesOut: 70 });
  m.http.exchange({ outcome: 'downstream_error', status: 502, durationSec: 0.02, bytesIn: 10, bytesOut: 30 });
  m.http.exchange({ outcome: 'timeout', status: 504, durationSec: 30, bytesIn: 10, bytesOut: 30 });
  m.http.exchange({ outcome: 'client_abort', status: 0, durationSec: 0.1, bytesIn: 5, bytesOut: 0 });
  m.http.rejected('smuggling');
  m.http.rejected('smuggling');
  m.http.rejected('header_count');
  m.http.upgrade('open');
  m.http.upgrade('close');
  m.store.stored(3, 3000);
  m.store.stored(2, 1000);
  m.store.dropped('write_failed', 2);
  m.recorder.dropped('queue_full', 4);
  m.recorder.skipped('http', 'excluded');
  m.recorder.skipped('tcp', 'excluded');
  m.recorder.skipped('http', 'sampled_out');
  m.store.purged('retention', 6, 600);
}

describe('Metrics', () => {
  test('renders valid exposition text with every documented name after a few events', async () => {
    const m = new Metrics({ collectDefault: false });
    feed(m);
    m.setStoreStats(() => ({ count: 42, bytes: 4200, queueDepth: 3 }));
    const { types, samples } = parseExposition(await m.render());
    const expected: [string, string][] = [
      ['qproxy_http_requests_total', 'counter'],
      ['qproxy_http_request_duration_seconds', 'histogram'],
      ['qproxy_http_rejected_total', 'counter'],
      ['qproxy_http_upgrades_total', 'counter'],
      ['qproxy_proxy_bytes_total', 'counter'],
      ['qproxy_records_stored_total', 'counter'],
      ['qproxy_recorded_bytes_total', 'counter'],
      ['qproxy_records_dropped_total', 'counter'],
      ['qproxy_records_purged_total', 'counter'],
      ['qproxy_recording_skipped_total', 'counter'],
      ['qproxy_store_records', 'gauge'],
      ['qproxy_store_bytes', 'gauge'],
      ['qproxy_store_queue_depth', 'gauge'],
    ];
    for (const [name, type] of expected) assert.equal(types.get(name), type, name);

    const req = (outcome: string, code_class: string): number | undefined =>
      valueOf(samples, 'qproxy_http_requests_total', { outcome, code_class });
    assert.equal(req('ok', '2xx'), 1);
    assert.equal(req('ok', '4xx'), 1);
    assert.equal(req('downstream_error', '5xx'), 1);
    assert.equal(req('timeout', '5xx'), 1);
    assert.equal(req('client_abort', 'other'), 1);
    assert.equal(req('ok', '3xx'), 0, 'every combination is exported from the start');
    const skipped = (protocol: string, reason: string): number | undefined => valueOf(samples, 'qproxy_recording_skipped_total', { protocol, reason });
    assert.deepEqual([skipped('http', 'excluded'), skipped('tcp', 'excluded'), skipped('http', 'sampled_out'), skipped('tcp', 'not_included')], [1, 1, 1, 0]);

    const bucket = (outcome: string, le: string): number | undefined =>
      valueOf(samples, 'qproxy_http_request_duration_seconds_bucket', { outcome, le });
    assert.equal(bucket('ok', '0.0005'), 1);
    assert.equal(bucket('ok', '0.005'), 2);
    assert.equal(bucket('timeout', '10'), 0);
    assert.equal(bucket('timeout', '30'), 1);
    assert.equal(valueOf(samples, 'qproxy_http_request_duration_seconds_count', { outcome: 'ok' }), 2);

    assert.equal(valueOf(samples, 'qproxy_proxy_bytes_total', { protocol: 'http', direction: 'rx' }), 175);
    assert.equal(valueOf(samples, 'qproxy_proxy_bytes_total', { protocol: 'http', direction: 'tx' }), 2130);
    assert.equal(valueOf(samples, 'qproxy_http_rejected_total', { reason: 'smuggling' }), 2);
    assert.equal(valueOf(samples, 'qproxy_http_rejected_total', { reason: 'header_count' }), 1);
    assert.equal(valueOf(samples, 'qproxy_http_upgrades_total', { event: 'open' }), 1);
    assert.equal(valueOf(samples, 'qproxy_http_upgrades_total', { event: 'error' }), 0);
    assert.equal(valueOf(samples, 'qproxy_records_stored_total'), 5);
    assert.equal(valueOf(samples, 'qproxy_recorded_bytes_total'), 4000);
    assert.equal(valueOf(samples, 'qproxy_records_dropped_total', { reason: 'write_failed' }), 2);
    assert.equal(valueOf(samples, 'qproxy_records_dropped_total', { reason: 'queue_full' }), 4);
    assert.equal(valueOf(samples, 'qproxy_records_purged_total', { reason: 'retention' }), 6);
    assert.equal(valueOf(samples, 'qproxy_records_purged_bytes_total', { reason: 'retention' }), 600);
    assert.equal(valueOf(samples, 'qproxy_store_records'), 42);
    assert.equal(valueOf(samples, 'qproxy_store_bytes'), 4200);
    assert.equal(valueOf(samples, 'qproxy_store_queue_depth'), 3);
  });

  test('counters keep counting across scrapes', async () => {
    const m = new Metrics({ collectDefault: false });
    m.store.stored(1, 10);
    parseExposition(await m.render());
    m.store.stored(2, 20);
    m.http.exchange({ outcome: 'ok', status: 200, durationSec: 0.001, bytesIn: 1, bytesOut: 1 });
    const { samples } = parseExposition(await m.render());
    assert.equal(valueOf(samples, 'qproxy_records_stored_total'), 3);
    assert.equal(valueOf(samples, 'qproxy_recorded_bytes_total'), 30);
    assert.equal(valueOf(samples, 'qproxy_http_requests_total', { outcome: 'ok', code_class: '2xx' }), 1);
    const again = parseExposition(await m.render()).samples;
    assert.equal(valueOf(again, 'qproxy_records_stored_total'), 3, 'a scrape does not add anything');
  });

  test('store gauges read the latest function on each scrape and survive a failing one', async () => {
    const m = new Metrics({ collectDefault: false });
    assert.equal(valueOf(parseExposition(await m.render()).samples, 'qproxy_store_records'), 0, 'no function yet: 0');
    let count = 1;
    m.setStoreStats(() => ({ count, bytes: 10, queueDepth: 0 }));
    assert.equal(valueOf(parseExposition(await m.render()).samples, 'qproxy_store_records'), 1);
    count = 5;
    assert.equal(valueOf(parseExposition(await m.render()).samples, 'qproxy_store_records'), 5);
    m.setStoreStats(() => {
      throw new Error('store closed');
    });
    const { samples } = parseExposition(await m.render());
    assert.equal(valueOf(samples, 'qproxy_store_records'), 5, 'the last good value stays');
  });

  test('totals() and resources() carry the same figures as the counters', () => {
    const m = new Metrics({ collectDefault: false });
    feed(m);
    assert.deepEqual(m.totals(), {
      requests: 5,
      errors: 3,
      recorded: 5,
      recorded_bytes: 4000,
      dropped: 6,
      dropped_by_reason: { write_failed: 2, queue_full: 4 },
      skipped: 3,
      skipped_by_reason: { not_included: 0, excluded: 2, sampled_out: 1 },
    });
    const r = m.resources();
    for (const [key, value] of Object.entries(r)) {
      assert.equal(typeof value, 'number', key);
      assert.ok(Number.isFinite(value) && value >= 0, `${key} = ${value}`);
    }
    assert.equal(r.net_rx_bytes, 175);
    assert.equal(r.net_tx_bytes, 2130);
    assert.ok(r.rss_bytes > 0 && r.heap_used_bytes > 0);
  });

  test('observers ignore values that would make prom-client throw', async () => {
    const m = new Metrics({ collectDefault: false });
    m.http.exchange({ outcome: 'ok', status: 200, durationSec: Number.NaN, bytesIn: -5, bytesOut: Infinity });
    m.http.exchange({ outcome: 'bogus' as 'ok', status: 700, durationSec: -1, bytesIn: 0, bytesOut: 0 });
    m.http.upgrade('sideways' as 'open');
    m.store.stored(Number.NaN, -1);
    m.store.dropped('x', -3);
    m.recorder.dropped('y', Number.POSITIVE_INFINITY);
    const { samples } = parseExposition(await m.render());
    assert.equal(valueOf(samples, 'qproxy_http_requests_total', { outcome: 'ok', code_class: '2xx' }), 1);
    assert.equal(valueOf(samples, 'qproxy_http_requests_total', { outcome: 'downstream_error', code_class: 'other' }), 1);
    assert.equal(valueOf(samples, 'qproxy_http_request_duration_seconds_count', { outcome: 'ok' }), 0);
    assert.equal(valueOf(samples, 'qproxy_proxy_bytes_total', { direction: 'tx' }), 0);
    assert.equal(valueOf(samples, 'qproxy_records_stored_total'), 0);
    assert.equal(m.totals().dropped, 0);
  });

  test(`free-form reasons stop at ${MAX_REASONS} label values; the rest count as "${OTHER_REASON}"`, async () => {
    const m = new Metrics({ collectDefault: false });
    for (let i = 0; i < MAX_REASONS + 10; i++) m.recorder.dropped(`reason-${i}`, 1);
    m.recorder.dropped('reason-0', 1);
    const { samples } = parseExposition(await m.render());
    const series = samples.filter((s) => s.name === 'qproxy_records_dropped_total');
    assert.equal(series.length, MAX_REASONS + 1);
    assert.equal(valueOf(samples, 'qproxy_records_dropped_total', { reason: OTHER_REASON }), 10);
    assert.equal(valueOf(samples, 'qproxy_records_dropped_total', { reason: 'reason-0' }), 2);
    assert.equal(m.totals().dropped, MAX_REASONS + 11);
  });

  test('default process metrics carry the qproxy_ prefix, in a private registry', async () => {
    const before = globalRegistry.getMetricsAsArray().length;
    const a = new Metrics();
    const b = new Metrics(); // a second node in the same process must not clash
    assert.equal(a.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const { types } = parseExposition(await a.render());
    for (const name of [
      'qproxy_process_cpu_seconds_total',
      'qproxy_process_resident_memory_bytes',
      'qproxy_process_open_fds',
      'qproxy_nodejs_heap_size_used_bytes',
      'qproxy_nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(types.has(name), name);
    }
    assert.ok(parseExposition(await b.render()).types.has('qproxy_http_requests_total'));
    assert.equal(globalRegistry.getMetricsAsArray().length, before, 'the global registry is untouched');
  });

  test('no metric uses a high-cardinality label', async () => {
    const m = new Metrics({ collectDefault: false });
    feed(m);
    const { samples } = parseExposition(await m.render());
    const labelNames = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    assert.deepEqual([...labelNames].sort(), ['category', 'code_class', 'direction', 'event', 'kind', 'le', 'mode', 'outcome', 'protocol', 'reason', 'result', 'role']);
  });
});

describe('CpuWindow', () => {
  function clock(): { now: () => number; cpu: () => number; advance: (ms: number, cpuMs: number) => void } {
    let now = 0;
    let cpu = 0;
    return {
      now: () => now,
      cpu: () => cpu,
      advance: (ms, cpuMs) => {
        now += ms;
        cpu += cpuMs * 1000;
      },
    };
  }

  test('rare calls measure the time since the previous call', () => {
    const c = clock();
    const w = new CpuWindow({ now: c.now, cpuMicros: c.cpu });
    c.advance(30_000, 15_000);
    assert.equal(w.percent(), 50);
    c.advance(30_000, 60_000); // two cores busy
    assert.equal(w.percent(), 200);
  });

  test('frequent calls average over about the last 5 s', () => {
    const c = clock();
    const w = new CpuWindow({ now: c.now, cpuMicros: c.cpu });
    for (let i = 0; i < 100; i++) {
      c.advance(100, 10); // 10% for 10 s
      w.percent();
    }
    for (let i = 0; i < 60; i++) {
      c.advance(100, 90); // then 90% for 6 s
      w.percent();
    }
    c.advance(100, 90);
    assert.equal(w.percent(), 90, 'the 10% period has left the window');
  });

  test('two calls in the same millisecond repeat the last figure', () => {
    const c = clock();
    const w = new CpuWindow({ now: c.now, cpuMicros: c.cpu });
    c.advance(2000, 500);
    assert.equal(w.percent(), 25);
    assert.equal(w.percent(), 25);
  });

  test('the real process figure is a finite, non-negative number', () => {
    const w = new CpuWindow();
    let x = 0;
    for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
    assert.ok(x > 0);
    const p = w.percent();
    assert.ok(Number.isFinite(p) && p >= 0, String(p));
  });
});
