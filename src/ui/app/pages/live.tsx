/** Live charts of the node's figures, and the state of its sync link. */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { Chart, type SeriesSpec } from '../components/chart';
import { Badge, ErrorBox, Facts, Section } from '../components/ui';
import { ago, bytes, count, ms } from '../format';
import { history, subscribe, type Point } from '../live-store';
import type { NodeStatus, SyncStatus } from '../types';

const fixed = (digits: number, unit: string) => (v: number | null) => (v === null ? '–' : `${v.toFixed(digits)}${unit}`);
const short = (v: number): string => (Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${+v.toFixed(2)}`);

interface ChartDef {
  title: string;
  series: Array<SeriesSpec & { key: keyof Point }>;
  y: (v: number) => string;
  /** Shown on this kind of node only. */
  mode?: 'Record' | 'Playback';
}

const CHARTS: ChartDef[] = [
  {
    title: 'Traffic (per second)',
    series: [
      { key: 'rps', label: 'HTTP requests/s', color: '--c1', format: fixed(1, '/s') },
      { key: 'tcpPerS', label: 'TCP sessions/s', color: '--c2', format: fixed(1, '/s') },
    ],
    y: short,
  },
  {
    title: 'Latency (last 10 s)',
    series: [
      { key: 'p50', label: 'p50', color: '--c1', format: (v) => ms(v) },
      { key: 'p99', label: 'p99', color: '--c3', format: (v) => ms(v) },
    ],
    y: (v) => (v === 0 ? '0' : ms(v)),
  },
  {
    title: 'Error rate',
    series: [{ key: 'errorPct', label: 'errors', color: '--c4', format: fixed(2, ' %') }],
    y: (v) => `${+v.toFixed(1)} %`,
  },
  {
    title: 'Recorded bytes',
    series: [{ key: 'bytesPerS', label: 'stored/s', color: '--c2', format: (v) => (v === null ? '–' : `${bytes(Math.round(v))}/s`) }],
    y: (v) => bytes(Math.round(v)),
  },
  {
    title: 'Sync lag',
    series: [{ key: 'lagMs', label: 'lag', color: '--c3', format: (v) => ms(v) }],
    y: (v) => (v === 0 ? '0' : ms(v)),
  },
  {
    title: 'Sync backlog',
    series: [{ key: 'backlog', label: 'records pending', color: '--c5', format: (v) => (v === null ? '–' : count(v)) }],
    y: short,
  },
  {
    title: 'Replay success',
    series: [{ key: 'successPct', label: 'matched of replayed', color: '--c6', format: fixed(1, ' %') }],
    y: (v) => `${+v.toFixed(0)} %`,
    mode: 'Playback',
  },
  {
    title: 'CPU',
    series: [{ key: 'cpu', label: 'process', color: '--c1', format: fixed(1, ' %') }],
    y: (v) => `${+v.toFixed(v < 10 ? 1 : 0)} %`,
  },
  {
    title: 'Memory',
    series: [
      { key: 'rssMiB', label: 'RSS', color: '--c2', format: fixed(1, ' MiB') },
      { key: 'heapMiB', label: 'JS heap', color: '--c5', format: fixed(1, ' MiB') },
    ],
    y: (v) => `${+v.toFixed(0)} MiB`,
  },
];

function SyncPanel({ sync, mode }: { sync: SyncStatus; mode: NodeStatus['mode'] }) {
  if ('enabled' in sync) {
    return <p class="empty">{mode === 'Record' ? 'No peer configured: records stay in this node.' : 'Sync is off on this node.'}</p>;
  }
  const connected = 'connected' in sync ? sync.connected : sync.connected_peers > 0;
  const rows: Array<[string, ComponentChildren]> = [
    ['link', <Badge kind={connected ? 'good' : 'bad'}>{connected ? 'connected' : 'state' in sync ? sync.state : 'not connected'}</Badge>],
    ['role', `${sync.role}${'backend' in sync ? ` (${sync.backend})` : ''}`],
  ];
  if ('peer' in sync && sync.peer) rows.push(['peer', sync.peer]);
  if ('listening' in sync && sync.listening) rows.push(['listening', sync.listening]);
  if ('connected_peers' in sync) rows.push(['connected peers', count(sync.connected_peers)]);
  if ('cursor' in sync) rows.push(['cursor', `${count(sync.cursor)} of ${count(sync.last_seq)}`]);
  if ('pending' in sync) rows.push(['pending', `${count(sync.pending.records)} records${'bytes' in sync.pending ? ` · ${bytes(sync.pending.bytes)}` : ''}`]);
  if ('lag_ms' in sync) rows.push(['lag', ms(sync.lag_ms)]);
  if ('behind_ms' in sync) rows.push(['behind', ms(sync.behind_ms)]);
  rows.push(['last success', sync.last_success_at ? ago(sync.last_success_at) : '–']);
  if (sync.last_error) rows.push(['last error', <span class="bad">{`${sync.last_error.code}: ${sync.last_error.message} (${ago(sync.last_error.at)})`}</span>]);
  return (
    <>
      <Facts rows={rows} />
      {sync.ledger && (
        <details class="ledger">
          <summary>Ledger (what was sent, received, stored)</summary>
          <pre>{JSON.stringify(sync.ledger, null, 2)}</pre>
        </details>
      )}
    </>
  );
}

export function Live() {
  const [status, setStatus] = useState<NodeStatus | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(
    () =>
      subscribe((s, e) => {
        setStatus(s);
        setError(e);
        setTick((n) => n + 1);
      }),
    [],
  );
  const points = history();
  const data = useMemo(() => {
    const xs = points.map((p) => p.t);
    const out = new Map<string, uPlot.AlignedData>();
    for (const c of CHARTS) out.set(c.title, [xs, ...c.series.map((s) => points.map((p) => p[s.key]))] as uPlot.AlignedData);
    return out;
  }, [tick, points]);
  const charts = CHARTS.filter((c) => c.mode === undefined || c.mode === status?.mode);
  return (
    <main class="page">
      <ErrorBox error={error} />
      <div class="live-grid">
        {charts.map((c) => (
          <Chart key={c.title} title={c.title} series={c.series} data={data.get(c.title)!} yFormat={c.y} />
        ))}
      </div>
      {status && (
        <div class="two-col">
          <Section title="Sync link">
            <SyncPanel sync={status.sync} mode={status.mode} />
          </Section>
          <Section title="Node">
            <Facts
              rows={[
                ['mode', status.mode],
                ['node', status.node_id],
                ['version', status.version],
                ['up', `${Math.round(status.uptime_s / 60)} min`],
                ['records stored', `${count(status.records.count)} · ${bytes(status.records.bytes)}`],
                ['in flight', count(status.traffic.in_flight)],
                ['HTTP requests', `${count(status.traffic.http_requests)} (${count(status.traffic.http_errors)} errors)`],
                ...(status.mode === 'Playback'
                  ? ([['replayed', `${count(status.playback.replayed)} (${count(status.playback.mismatched)} mismatched)`]] as Array<[string, string]>)
                  : []),
              ]}
            />
          </Section>
        </div>
      )}
    </main>
  );
}
