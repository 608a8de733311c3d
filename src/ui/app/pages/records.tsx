/**
 * The records table: pages through GET /api/records (newest first) with the filters the API takes,
 * and, while "live" is on, puts newly recorded records on top every two seconds.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, query } from '../api';
import { ErrorBox, Empty, LoadMore } from '../components/ui';
import { bytes, ms, statusClass, time } from '../format';
import { useInterval } from '../hooks';
import { go, href } from '../route';
import type { RecordPage, RecordSummary } from '../types';

interface Filters {
  q: string;
  protocol: '' | 'http' | 'tcp';
  method: string;
  status: string;
  start: string;
  end: string;
}

const PAGE = 50;
const LIVE_MS = 2000;
const FILL_ROWS = 20;
const FILL_CALLS = 4;
const METHODS = ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

// Kept while the page is open, so that coming back from a record shows the same list.
let remembered: Filters = { q: '', protocol: '', method: '', status: '', start: '', end: '' };

function iso(local: string): string | undefined {
  if (local === '') return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function listPath(f: Filters, cursor: string | null, limit = PAGE): string {
  return `/api/records${query({
    limit,
    q: f.q.trim(),
    protocol: f.protocol,
    method: f.method,
    status: f.status.trim(),
    start: iso(f.start),
    end: iso(f.end),
    cursor,
  })}`;
}

/**
 * The first rows: a sparse filter may find few records in one call (the node scans a bounded number
 * per call), so a few more calls fill the screen before the user has to ask for more.
 */
async function firstRows(f: Filters): Promise<RecordPage> {
  const page = await get<RecordPage>(listPath(f, null));
  for (let i = 0; i < FILL_CALLS && page.records.length < FILL_ROWS && page.next !== null; i++) {
    const more = await get<RecordPage>(listPath(f, page.next));
    page.records.push(...more.records);
    page.next = more.next;
  }
  return page;
}

export function Records() {
  const [filters, setFilters] = useState<Filters>(remembered);
  const [applied, setApplied] = useState<Filters>(remembered);
  const [rows, setRows] = useState<RecordSummary[]>([]);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const [live, setLive] = useState(true);
  const generation = useRef(0);

  useEffect(() => {
    remembered = applied;
    const mine = ++generation.current;
    setLoading(true);
    firstRows(applied).then(
      (page) => {
        if (mine !== generation.current) return;
        setRows(page.records);
        setNext(page.next);
        setFresh(new Set());
        setError(null);
        setLoading(false);
      },
      (e: Error) => {
        if (mine !== generation.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [applied]);

  useInterval(
    () => {
      const mine = generation.current;
      get<RecordPage>(listPath(applied, null, PAGE)).then(
        (page) => {
          if (mine !== generation.current) return;
          setRows((old) => {
            const known = new Set(old.map((r) => r.id));
            const newest = old[0]?.started_at ?? '';
            const added = page.records.filter((r) => !known.has(r.id) && r.started_at >= newest);
            if (added.length === 0) return old;
            setFresh(new Set(added.map((r) => r.id)));
            return [...added, ...old];
          });
          setError(null);
        },
        (e: Error) => setError(e),
      );
    },
    LIVE_MS,
    live && !loading,
  );

  const more = (): void => {
    if (next === null) return;
    const mine = generation.current;
    get<RecordPage>(listPath(applied, next)).then(
      (page) => {
        if (mine !== generation.current) return;
        setRows((old) => [...old, ...page.records]);
        setNext(page.next);
      },
      (e: Error) => setError(e),
    );
  };

  const set = (k: keyof Filters) => (e: Event) => setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value });

  return (
    <main class="page">
      <form
        class="filters panel"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ ...filters });
        }}
      >
        <label class="grow">
          <span>Search URL, host, client or id</span>
          <input type="search" name="q" value={filters.q} onInput={set('q')} placeholder="/orders, 10.0.0.5:8081 …" />
        </label>
        <label>
          <span>Protocol</span>
          <select name="protocol" value={filters.protocol} onChange={set('protocol')}>
            <option value="">any</option>
            <option value="http">HTTP</option>
            <option value="tcp">TCP</option>
          </select>
        </label>
        <label>
          <span>Method</span>
          <select name="method" value={filters.method} onChange={set('method')}>
            {METHODS.map((m) => (
              <option value={m}>{m === '' ? 'any' : m}</option>
            ))}
          </select>
        </label>
        <label class="narrow">
          <span>Status</span>
          <input name="status" value={filters.status} onInput={set('status')} placeholder="5xx, 404" size={8} />
        </label>
        <label>
          <span>From</span>
          <input type="datetime-local" step="1" name="start" value={filters.start} onInput={set('start')} />
        </label>
        <label>
          <span>To</span>
          <input type="datetime-local" step="1" name="end" value={filters.end} onInput={set('end')} />
        </label>
        <div class="filter-actions">
          <button type="submit" class="primary">
            Apply
          </button>
          <label class="check" title="Add newly recorded records on top every 2 s">
            <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> live
          </label>
        </div>
      </form>
      <ErrorBox error={error} />
      {loading ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <Empty>{next === null ? 'No records match.' : 'No matches among the records scanned so far.'}</Empty>
      ) : (
        <div class="table-wrap">
          <table class="list records">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Method</th>
                <th scope="col">URL or session</th>
                <th scope="col">Status</th>
                <th scope="col" class="num hide-narrow">Duration</th>
                <th scope="col" class="num hide-narrow">Size</th>
                <th scope="col" class="hide-narrow">Node</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} class={fresh.has(r.id) ? 'fresh' : undefined} onClick={() => go({ page: 'record', id: r.id })}>
                  <td class="mono nowrap">
                    <span class="hide-narrow">{time(r.started_at).slice(0, 11)}</span>
                    {time(r.started_at).slice(11)}
                  </td>
                  <td>{r.protocol === 'tcp' ? <span class="badge badge-tcp">TCP</span> : <span class="method">{r.method}</span>}</td>
                  <td class="url">
                    <a href={href({ page: 'record', id: r.id })} onClick={(e) => e.stopPropagation()}>
                      {r.protocol === 'tcp' ? `${r.client ?? '?'} → ${r.downstream ?? '?'}` : r.url}
                    </a>
                    {r.error ? <span class="badge badge-bad" title={r.error}>error</span> : null}
                  </td>
                  <td>
                    {r.protocol === 'tcp' ? (
                      <span class="muted">{r.state === 'open' ? 'open' : `${bytes(r.bytes_in)} / ${bytes(r.bytes_out)}`}</span>
                    ) : (
                      <span class={`status ${statusClass(r.status)}`}>{r.status ?? '–'}</span>
                    )}
                  </td>
                  <td class="num nowrap hide-narrow">{ms(r.duration_ms)}</td>
                  <td class="num nowrap hide-narrow">{bytes(r.size_bytes)}</td>
                  <td class="hide-narrow muted">{r.node_id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore shown={next !== null && !loading} onClick={more} />
    </main>
  );
}
