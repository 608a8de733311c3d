/**
 * One replay: progress and counts, endpoints ranked by mismatch (computed by the node as results
 * come in), the most frequent differences, and its per-record results, each opening a
 * side-by-side diff.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, get, query } from '../api';
import { Badge, Empty, ErrorBox, Facts, LoadMore, Section, Stat } from '../components/ui';
import { count, ms, percent, shortId, time } from '../format';
import { useLoad } from '../hooks';
import { go, href } from '../route';
import type { ReplayDoc, ReplayResult, ResultStatus } from '../types';
import { stateKind, SuccessBar } from './replays';

const STATUSES: Array<ResultStatus | ''> = ['mismatch', 'failed', '', 'match', 'skipped', 'dry_run', 'missing'];
const PAGE = 100;

function Results({ id, initial }: { id: string; initial: ResultStatus | '' }) {
  const [status, setStatus] = useState<ResultStatus | ''>(initial);
  const [rows, setRows] = useState<ReplayResult[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let live = true;
    setLoading(true);
    get<{ results: ReplayResult[]; next: string | null }>(`/api/replays/${encodeURIComponent(id)}/results${query({ status, limit: PAGE })}`).then(
      (page) => {
        if (!live) return;
        setRows(page.results);
        setNext(page.next);
        setError(null);
        setLoading(false);
      },
      (e: Error) => live && (setError(e), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [id, status]);

  const more = (): void => {
    if (next === null) return;
    get<{ results: ReplayResult[]; next: string | null }>(`/api/replays/${encodeURIComponent(id)}/results${query({ status, limit: PAGE, cursor: next })}`).then(
      (page) => {
        setRows((old) => [...old, ...page.results]);
        setNext(page.next);
      },
      (e: Error) => setError(e),
    );
  };

  return (
    <Section
      title="Results"
      actions={
        <span class="tabs" role="tablist" aria-label="Result status">
          {STATUSES.map((s) => (
            <button type="button" role="tab" aria-selected={status === s} class={status === s ? 'tab active' : 'tab'} onClick={() => setStatus(s)}>
              {s === '' ? 'all' : s.replace('_', ' ')}
            </button>
          ))}
        </span>
      }
    >
      <ErrorBox error={error} />
      {loading ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <Empty>No {status === '' ? '' : `${status.replace('_', ' ')} `}results.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="list results">
            <thead>
              <tr>
                <th scope="col">Result</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Differences</th>
                <th scope="col" class="num hide-narrow">Recorded</th>
                <th scope="col" class="num hide-narrow">Replayed</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.record_id}-${r.at}`} onClick={() => go({ page: 'result', id, record: r.record_id })}>
                  <td>
                    <Badge kind={r.status === 'match' ? 'good' : r.status === 'mismatch' || r.status === 'failed' ? 'bad' : 'muted'}>{r.status.replace('_', ' ')}</Badge>
                  </td>
                  <td class="url">
                    <a href={href({ page: 'result', id, record: r.record_id })} onClick={(e) => e.stopPropagation()}>
                      {r.protocol === 'tcp' ? `TCP ${r.target ?? ''}` : `${r.method ?? ''} ${r.target ?? shortId(r.record_id)}`}
                    </a>
                  </td>
                  <td class="nowrap mono">
                    {r.recorded_status ?? '–'} → {r.replayed_status ?? '–'}
                  </td>
                  <td class="kinds">{r.kinds.length > 0 ? r.kinds.join(', ') : (r.error ?? '')}</td>
                  <td class="num nowrap hide-narrow">{ms(r.recorded_ms)}</td>
                  <td class="num nowrap hide-narrow">{ms(r.replayed_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore shown={next !== null && !loading} onClick={more} />
    </Section>
  );
}

export function ReplayDetail({ id }: { id: string }) {
  const [running, setRunning] = useState(true);
  const { data: r, error } = useLoad(() => get<ReplayDoc>(`/api/replays/${encodeURIComponent(id)}`), id, running ? 2000 : 0);
  const [actionError, setActionError] = useState<Error | null>(null);
  useEffect(() => {
    if (r !== null) setRunning(r.state === 'running');
  }, [r?.state]);

  const stop = async (): Promise<void> => {
    const finished = r !== null && r.state !== 'running';
    if (finished && !confirm('Delete this replay and its results?')) return;
    try {
      await call('DELETE', `/api/replays/${encodeURIComponent(id)}`);
      if (finished) go({ page: 'replays' });
      else setRunning(true);
    } catch (e) {
      setActionError(e as Error);
    }
  };

  if (r === null) {
    return (
      <main class="page">
        <p class="crumbs">
          <a href="#/replays">← Replays</a>
        </p>
        <ErrorBox error={error} />
        {!error && <p class="muted">Loading…</p>}
      </main>
    );
  }
  const s = r.summary;
  const c = s.counts;
  const endpoints = s.endpoints ?? [];
  return (
    <main class="page">
      <p class="crumbs">
        <a href="#/replays">← Replays</a>
      </p>
      <ErrorBox error={error ?? actionError} />
      <header class="panel record-head">
        <h1 class="record-title">
          {r.kind === 'live' ? 'Live replay' : `Replay ${shortId(r.id)}`} <Badge kind={stateKind(r.state)}>{r.state}</Badge>
        </h1>
        {r.kind === 'on_demand' && (
          <div class="actions">
            <button type="button" class="danger" onClick={() => void stop()}>
              {r.state === 'running' ? 'Cancel' : 'Delete'}
            </button>
          </div>
        )}
        <div class="stats">
          <Stat label="success rate" value={<SuccessBar rate={s.success_rate} />} />
          <Stat label="replayed" value={count(s.replayed)} />
          <Stat label="match" value={count(c.match)} kind="good" />
          <Stat label="mismatch" value={count(c.mismatch)} kind={c.mismatch > 0 ? 'bad' : undefined} />
          <Stat label="failed" value={count(c.failed)} kind={c.failed > 0 ? 'bad' : undefined} />
          <Stat label="skipped · dry run · missing" value={`${count(c.skipped)} · ${count(c.dry_run)} · ${count(c.missing)}`} />
        </div>
        <Facts
          rows={[
            ['id', <code>{r.id}</code>],
            ['started', time(r.created_at)],
            ['finished', r.finished_at ? time(r.finished_at) : '–'],
            ['progress', `${count(r.progress.read)} read · ${count(r.progress.queued)} queued · ${count(r.progress.in_flight)} in flight`],
            ['latency p50 / p99', `recorded ${ms(s.latency_ms.recorded.p50)} / ${ms(s.latency_ms.recorded.p99)} · replayed ${ms(s.latency_ms.replayed.p50)} / ${ms(s.latency_ms.replayed.p99)}`],
            ['lateness p99', ms(s.lateness_ms.p99)],
            ['ignored', r.params.compare ? [...r.params.compare.ignore.headers, ...r.params.compare.ignore.json_paths].join(', ') || 'nothing' : '–'],
          ]}
        />
        {r.error && <p class="error-box">{r.error}</p>}
      </header>
      <div class="two-col">
        <Section title="Endpoints by mismatch">
          {endpoints.length === 0 ? (
            <Empty>No results yet.</Empty>
          ) : (
            <table class="list endpoints">
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col" class="num">Results</th>
                  <th scope="col" class="num">Mismatch</th>
                  <th scope="col" class="num">Failed</th>
                  <th scope="col">Mismatch rate</th>
                </tr>
              </thead>
              <tbody>
                {endpoints.map((e) => (
                  <tr key={e.endpoint}>
                    <td class="url mono">{e.endpoint}</td>
                    <td class="num">{count(e.results)}</td>
                    <td class={`num${e.mismatch > 0 ? ' bad' : ''}`}>{count(e.mismatch)}</td>
                    <td class={`num${e.failed > 0 ? ' bad' : ''}`}>{count(e.failed)}</td>
                    <td>
                      <span class="rate bad-rate">
                        <span class="rate-track" aria-hidden="true">
                          <span class="rate-fill" style={{ width: `${(e.mismatch_rate ?? 0) * 100}%` }} />
                        </span>
                        <span class="rate-text">{percent(e.mismatch_rate)}</span>
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Most frequent differences">
          {s.top_differences.length === 0 && s.top_errors.length === 0 ? (
            <Empty>No differences.</Empty>
          ) : (
            <ul class="top-list">
              {s.top_differences.map((d) => (
                <li key={d.kind}>
                  <code>{d.kind}</code> <span class="muted">× {count(d.count)}</span>
                </li>
              ))}
              {s.top_errors.map((d) => (
                <li key={d.error}>
                  <code class="bad">{d.error}</code> <span class="muted">× {count(d.count)}</span>
                </li>
              ))}
            </ul>
          )}
        </Section>
      </div>
      <Results id={id} initial={c.mismatch > 0 ? 'mismatch' : c.failed > 0 ? 'failed' : ''} />
    </main>
  );
}
