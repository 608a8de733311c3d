// Turning measurements into medians, ratios, targets and the markdown report.

/** Median of the finite numbers in `values` (mean of the middle two for an even count); NaN if none. */
export function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The targets QProxy's recording case is held to (issue 12; ratios are QProxy / reference, same run). */
export const TARGETS = [
  { id: 'rps-vs-plain', label: 'req/s ≥ 0.85 × plain-undici at 1 KiB', ref: 'plain-undici', metric: 'rps', op: '>=', limit: 0.85, size: '1k' },
  { id: 'rps-vs-plain-64k', label: 'req/s ≥ 0.7 × plain-undici at 64 KiB', ref: 'plain-undici', metric: 'rps', op: '>=', limit: 0.7, size: '64k' },
  { id: 'p99-vs-plain', label: 'p99 ≤ 1.5 × plain-undici p99', ref: 'plain-undici', metric: 'p99', op: '<=', limit: 1.5 },
  { id: 'rps-vs-http-proxy', label: 'req/s ≥ 1.0 × http-proxy', ref: 'http-proxy', metric: 'rps', op: '>=', limit: 1.0 },
  { id: 'cpu-1k', label: 'proxy CPU ≤ 45 µs/req at 1 KiB', metric: 'cpuUs', op: '<=', limit: 45, size: '1k' },
];
const SUBJECT = 'qproxy-record';
/** Above this much CPU (% of one core) used by other processes, the report warns that figures are disturbed. */
const NOISE_WARN_PCT = 10;

/** Per size and case: medians over rounds of the successful measurements, and ratios to the references. */
export function summarize(runs, caseNames, sizeNames) {
  const rows = [];
  for (const size of sizeNames) {
    const bySize = new Map();
    for (const name of caseNames) {
      const rs = runs.filter((r) => r.case === name && r.size === size && r.ok);
      if (rs.length === 0) continue;
      bySize.set(name, {
        case: name,
        size,
        rounds: rs.length,
        rpsRounds: rs.map((r) => r.rps),
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.latency_us.p50)),
        p99: median(rs.map((r) => r.latency_us.p99)),
        cpuUs: median(rs.map((r) => r.proxy_cpu_us_per_req ?? NaN)),
        cpuPct: median(rs.map((r) => r.proxy_cpu_pct ?? NaN)),
        busyPct: median(rs.map((r) => r.machine_busy_pct)),
        otherPct: median(rs.map((r) => r.other_cpu_pct ?? NaN)),
        errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
      });
    }
    for (const row of bySize.values()) {
      row.vs = {};
      for (const ref of ['plain-undici', 'http-proxy']) {
        const base = bySize.get(ref);
        if (!base) continue;
        row.vs[ref] = { rps: row.rps / base.rps, p99: row.p99 / base.p99, cpuUs: row.cpuUs / base.cpuUs };
      }
      rows.push(row);
    }
  }
  return rows;
}

/** Evaluate TARGETS for every measured size; a target whose inputs are missing is NOT MEASURED. */
export function evaluateTargets(rows, sizeNames, failures) {
  const out = [];
  const why = failures.get(SUBJECT);
  for (const t of TARGETS) {
    for (const size of t.size ? sizeNames.filter((s) => s === t.size) : sizeNames) {
      const row = rows.find((r) => r.case === SUBJECT && r.size === size);
      const value = !row ? NaN : t.ref ? row.vs[t.ref]?.[t.metric] : row[t.metric];
      let result;
      let note = '';
      if (!Number.isFinite(value)) {
        result = 'NOT MEASURED';
        note = !row ? `${SUBJECT}: ${why ?? 'not run'}` : `${t.ref}: ${failures.get(t.ref) ?? 'not run'}`;
      } else {
        result = (t.op === '>=' ? value >= t.limit : value <= t.limit) ? 'PASS' : 'FAIL';
      }
      out.push({ id: t.id, label: t.label, size, value, limit: t.limit, result, note });
    }
  }
  return out;
}

const fmt = {
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-'),
  ms: (us) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '-'),
  x: (r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '-'),
  f1: (x) => (Number.isFinite(x) ? x.toFixed(1) : '-'),
  f2: (x) => (Number.isFinite(x) ? x.toFixed(2) : '-'),
};

function sizeTable(rows, size) {
  const lines = [
    `#### ${size}`,
    '',
    '| case | req/s (median) | per round | p50 ms | p99 ms | proxy CPU µs/req | proxy CPU % | machine busy % | other CPU % | vs plain req/s | vs plain p99 | vs plain CPU | vs http-proxy req/s | vs http-proxy p99 | vs http-proxy CPU | errors |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows.filter((x) => x.size === size)) {
    const p = r.vs['plain-undici'] ?? {};
    const h = r.vs['http-proxy'] ?? {};
    lines.push(
      `| ${r.case} | ${fmt.int(r.rps)} | ${r.rpsRounds.map(fmt.int).join(' / ')} | ${fmt.ms(r.p50)} | ${fmt.ms(r.p99)} | ` +
        `${fmt.f1(r.cpuUs)} | ${fmt.int(r.cpuPct)} | ${fmt.int(r.busyPct)} | ${fmt.int(r.otherPct)} | ${fmt.x(p.rps)} | ${fmt.x(p.p99)} | ${fmt.x(p.cpuUs)} | ` +
        `${fmt.x(h.rps)} | ${fmt.x(h.p99)} | ${fmt.x(h.cpuUs)} | ${r.errors} |`,
    );
  }
  lines.push('');
  return lines;
}

/** The whole markdown report. */
export function renderMarkdown({ meta, rows, targets, caseRecords, caseInfo }) {
  const out = [
    `### QProxy benchmark ${meta.date}`,
    '',
    `Machine: ${meta.cpus} CPUs (${meta.cpuModel}), Node ${meta.node}. Load: ${meta.loadgen}, ${meta.connections} connections, ` +
      `warm-up ${meta.warmupS} s + measured ${meta.durationS} s per case and size, ${meta.rounds} round(s), case order alternating. ` +
      `Pinning: ${meta.pinning}.`,
    '',
    'Figures are medians over rounds. "proxy CPU" is user+system time of the proxy\'s whole process tree during the measured ' +
      'window (µs per request; % of one core). Ratios divide this case by the reference case of the same run.',
    '',
  ];
  const noisiest = Math.max(0, ...rows.map((r) => r.otherPct).filter(Number.isFinite));
  if (noisiest > NOISE_WARN_PCT) {
    out.push(
      `**Warning:** processes outside the benchmark used up to ${Math.round(noisiest)} % of a core during measured windows ` +
        '(column "other CPU %"). req/s and latency are disturbed; CPU µs/req is the figure least affected. Rerun on an idle machine.',
      '',
    );
  }
  for (const size of meta.sizes) out.push(...sizeTable(rows, size));
  out.push('#### Targets (qproxy-record)', '', '| target | size | value | limit | result |', '|---|---|---:|---:|---|');
  for (const t of targets) {
    const value = t.id === 'cpu-1k' ? `${fmt.f1(t.value)} µs` : fmt.x(t.value);
    out.push(`| ${t.label} | ${t.size} | ${value} | ${t.id === 'cpu-1k' ? `${t.limit} µs` : `${t.limit}×`} | ${t.result}${t.note ? ` (${t.note})` : ''} |`);
  }
  out.push(
    '',
    '#### Cases',
    '',
    '"disk / recorded" is the proxy process\'s `write_bytes` (/proc/<pid>/io, every thread, just before the stop) over the bytes it recorded (`recording.recorded_bytes` of /api/status: JSON documents and payloads).',
    '',
    '| case | what | records | start s (median) | RSS at end MiB | stop | data written | records at stop (API) | disk / recorded |',
    '|---|---|---|---:|---:|---|---:|---:|---:|',
  );
  for (const c of caseInfo) {
    const recs = caseRecords.filter((r) => r.case === c.name && r.ok);
    const stops = [...new Set(recs.filter((r) => r.stop).map((r) => `${r.stop.code ?? r.stop.signal}${r.stop.forced ? ' (forced)' : ''} in ${fmt.f1(r.stop.stopMs / 1000)} s`))];
    const written = median(recs.map((r) => r.work_bytes ?? NaN));
    out.push(
      `| ${c.name} (${c.letter}) | ${c.what} | ${c.records} | ${fmt.f1(median(recs.map((r) => r.start_s)))} | ` +
        `${fmt.f1(median(recs.map((r) => r.rss_mib ?? NaN)))} | ${stops.join('; ') || '-'} | ${Number.isFinite(written) ? `${fmt.f1(written / 1048576)} MiB` : '-'} | ` +
        `${fmt.int(median(recs.map((r) => r.records_at_stop ?? NaN)))} | ` +
        `${fmt.f2(median(recs.map((r) => (r.io_write_bytes && r.recorded_bytes ? r.io_write_bytes / r.recorded_bytes : NaN))))} |`,
    );
  }
  const failed = caseRecords.filter((r) => !r.ok);
  if (failed.length) {
    out.push('', 'Failed cases:', '');
    for (const f of failed) out.push(`- ${f.case} round ${f.round}: ${f.why} (log: ${f.log})`);
  }
  out.push('');
  return out.join('\n');
}
