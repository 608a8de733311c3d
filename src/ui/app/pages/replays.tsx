/** The replays of a Playback node: state, progress and success rate, updated every two seconds. */
import { useState } from 'preact/hooks';
import { get } from '../api';
import { Badge, Empty, ErrorBox } from '../components/ui';
import { ago, count, percent, shortId } from '../format';
import { useLoad } from '../hooks';
import { go, href } from '../route';
import type { ReplayDoc } from '../types';
import { ReplayForm } from './replay-form';

export function stateKind(state: ReplayDoc['state']): string {
  return state === 'running' ? 'info' : state === 'done' ? 'good' : state === 'failed' ? 'bad' : 'muted';
}

export function SuccessBar({ rate }: { rate: number | null }) {
  return (
    <span class="rate">
      <span class="rate-track" aria-hidden="true">
        <span class="rate-fill" style={{ width: `${rate === null ? 0 : rate * 100}%` }} />
      </span>
      <span class="rate-text">{percent(rate)}</span>
    </span>
  );
}

export function Replays({ playback }: { playback: boolean }) {
  const [form, setForm] = useState(false);
  const { data, error } = useLoad(() => get<{ replays: ReplayDoc[] }>('/api/replays?limit=100'), 'replays', playback ? 2000 : 0);
  if (!playback) {
    return (
      <main class="page">
        <Empty>Replays run on Playback nodes. This is a Record node: open the UI of the Playback node in zone B.</Empty>
      </main>
    );
  }
  const replays = data?.replays ?? [];
  return (
    <main class="page">
      <div class="page-head">
        <h1>Replays</h1>
        {!form && (
          <button type="button" class="primary" onClick={() => setForm(true)}>
            New replay
          </button>
        )}
      </div>
      {form && <ReplayForm onClose={() => setForm(false)} />}
      <ErrorBox error={error} />
      {data === null ? (
        !error && <p class="muted">Loading…</p>
      ) : replays.length === 0 ? (
        <Empty>No replays yet. Start one, or turn on playback.live to replay records as they arrive.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="list replays">
            <thead>
              <tr>
                <th scope="col">Replay</th>
                <th scope="col">State</th>
                <th scope="col">Started</th>
                <th scope="col" class="num">Read</th>
                <th scope="col">Success</th>
                <th scope="col" class="num">Match</th>
                <th scope="col" class="num">Mismatch</th>
                <th scope="col" class="num">Failed</th>
                <th scope="col" class="num hide-narrow">Not sent</th>
              </tr>
            </thead>
            <tbody>
              {replays.map((r) => {
                const c = r.summary.counts;
                return (
                  <tr key={r.id} onClick={() => go({ page: 'replay', id: r.id })}>
                    <td>
                      <a href={href({ page: 'replay', id: r.id })} onClick={(e) => e.stopPropagation()}>
                        {r.kind === 'live' ? 'live replay' : shortId(r.id)}
                      </a>
                    </td>
                    <td>
                      <Badge kind={stateKind(r.state)}>{r.state}</Badge>
                    </td>
                    <td class="nowrap" title={r.created_at}>
                      {ago(r.created_at)}
                    </td>
                    <td class="num">
                      {count(r.progress.read)}
                      {r.state === 'running' && r.progress.in_flight > 0 && <span class="muted"> ({r.progress.in_flight} in flight)</span>}
                    </td>
                    <td>
                      <SuccessBar rate={r.summary.success_rate} />
                    </td>
                    <td class="num">{count(c.match)}</td>
                    <td class={`num${c.mismatch > 0 ? ' bad' : ''}`}>{count(c.mismatch)}</td>
                    <td class={`num${c.failed > 0 ? ' bad' : ''}`}>{count(c.failed)}</td>
                    <td class="num hide-narrow">{count(c.skipped + c.dry_run + c.missing)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
