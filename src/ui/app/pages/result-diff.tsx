/**
 * One record's result in a replay: recorded and replayed answer side by side (status, headers, JSON
 * fields), with what the replay's rules ignore greyed out and what differs marked, as the node
 * computed it (GET /api/replays/{id}/results/{record_id}).
 */
import { get } from '../api';
import { BodyView } from '../components/body-view';
import { HeadersTable } from '../components/headers-table';
import { Badge, Empty, ErrorBox, Facts, Section } from '../components/ui';
import { ms, shortId, time } from '../format';
import { useLoad } from '../hooks';
import { href } from '../route';
import type { FieldRow, ResultDetail } from '../types';

const STATE_TEXT: Record<FieldRow['state'], string> = {
  same: 'same',
  differs: 'differs',
  ignored: 'ignored by the rules',
  redacted: 'redacted at record time',
};

function FieldTable({ rows, caption }: { rows: FieldRow[]; caption: string }) {
  return (
    <div class="table-wrap">
      <table class="diff">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{caption}</th>
            <th scope="col">Recorded (zone A)</th>
            <th scope="col">Replayed (zone B)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name} class={`f-${r.state}`} title={STATE_TEXT[r.state]}>
              <th scope="row" class="mono">
                {r.name}
                {r.state !== 'same' && <span class="sr-only"> ({STATE_TEXT[r.state]})</span>}
              </th>
              <td class="mono">{r.recorded ?? <span class="absent">(absent)</span>}</td>
              <td class="mono">{r.replayed ?? <span class="absent">(absent)</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Legend() {
  return (
    <p class="legend">
      <span class="f-differs">differs</span> <span class="f-ignored">ignored by the rules</span> <span class="f-redacted">redacted at record time</span>{' '}
      <span class="f-same">same</span>
    </p>
  );
}

export function ResultDiff({ id, record }: { id: string; record: string }) {
  const { data: d, error } = useLoad(
    () => get<ResultDetail>(`/api/replays/${encodeURIComponent(id)}/results/${encodeURIComponent(record)}`),
    `${id}/${record}`,
  );
  const back = (
    <p class="crumbs">
      <a href={href({ page: 'replays' })}>Replays</a> / <a href={href({ page: 'replay', id })}>{id === 'live' ? 'live replay' : shortId(id)}</a> / result
    </p>
  );
  if (d === null) {
    return (
      <main class="page">
        {back}
        <ErrorBox error={error} />
        {!error && <p class="muted">Loading…</p>}
      </main>
    );
  }
  const r = d.result;
  const cmp = d.comparison;
  return (
    <main class="page">
      {back}
      <header class="panel record-head">
        <h1 class="record-title">
          <Badge kind={r.status === 'match' ? 'good' : r.status === 'mismatch' || r.status === 'failed' ? 'bad' : 'muted'}>{r.status.replace('_', ' ')}</Badge>{' '}
          {r.protocol === 'tcp' ? `TCP ${r.target ?? ''}` : (
            <>
              <span class="method">{r.method}</span> <span class="url">{r.target}</span>
            </>
          )}
        </h1>
        <Facts
          rows={[
            ['record', <a href={href({ page: 'record', id: r.record_id })}>{r.record_id}</a>],
            ['decided', time(r.at)],
            ['status', `${r.recorded_status ?? '–'} → ${r.replayed_status ?? '–'}`],
            ['time to answer', `${ms(r.recorded_ms)} recorded → ${ms(r.replayed_ms)} replayed`],
            ['differences', r.kinds.length > 0 ? r.kinds.join(', ') : 'none'],
          ]}
        />
        {r.error && <p class="error-box">{r.error}</p>}
        {r.diff && <pre class="diff-text">{r.diff}</pre>}
      </header>
      {cmp === null ? (
        <Section title="Answers">
          <Empty>
            {r.status === 'mismatch'
              ? 'The replayed answer of this mismatch was not kept (replayed by an older QProxy, or a TCP session).'
              : r.status === 'match'
                ? 'The replayed answer matched the recorded one under the rules; only mismatches keep the replayed answer.'
                : 'There is no replayed answer to compare.'}
          </Empty>
          {d.recorded && (
            <>
              <h3>Recorded answer</h3>
              <HeadersTable headers={d.recorded.headers} caption="Recorded headers" />
              <BodyView body={d.recorded.body} headers={d.recorded.headers} label="recorded body" />
            </>
          )}
        </Section>
      ) : (
        <>
          <Legend />
          <Section title="Status and headers">
            <FieldTable
              caption="Field"
              rows={[
                {
                  name: 'status',
                  recorded: String(cmp.status.recorded),
                  replayed: String(cmp.status.replayed),
                  state: !cmp.status.compared ? 'ignored' : cmp.status.differs ? 'differs' : 'same',
                },
                ...cmp.headers.map((h) => ({ ...h, name: `header ${h.name}` })),
              ]}
            />
          </Section>
          <Section title="Body">
            {cmp.notes.length > 0 && (
              <ul class="notes">
                {cmp.notes.map((n) => (
                  <li key={n}>{n}</li>
                ))}
              </ul>
            )}
            {cmp.body.kind === 'json' ? (
              <>
                <FieldTable caption="JSON path" rows={cmp.body.fields} />
                {cmp.body.more > 0 && <p class="muted">… and {cmp.body.more} more fields not listed.</p>}
              </>
            ) : cmp.body.kind === 'not_compared' ? (
              <Empty>Bodies are not compared in this replay (compare.body is false).</Empty>
            ) : (
              <div class="two-col">
                <div>
                  <h3>
                    Recorded {cmp.body.differs ? <Badge kind="bad">differs</Badge> : <Badge kind="good">same</Badge>}
                  </h3>
                  {d.recorded && <BodyView body={d.recorded.body} headers={d.recorded.headers} label="recorded body" />}
                </div>
                <div>
                  <h3>Replayed</h3>
                  {d.replayed && <BodyView body={d.replayed.body} headers={d.replayed.headers} label="replayed body" />}
                </div>
              </div>
            )}
          </Section>
        </>
      )}
    </main>
  );
}
