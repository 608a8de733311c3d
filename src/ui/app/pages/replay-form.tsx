/**
 * Starts an on-demand replay (POST /api/replays) with the options of `qproxy replay`: what to
 * replay (time range or ids, protocol, methods, path, node, limit), how (speed, rate, concurrency),
 * plus extra ignore rules and what to do with writes.
 */
import { useState } from 'preact/hooks';
import { call } from '../api';
import { ErrorBox } from '../components/ui';
import { go } from '../route';
import type { ReplayDoc } from '../types';

const RANGES: Array<[string, string, number | null]> = [
  ['15m', 'last 15 minutes', 15 * 60_000],
  ['1h', 'last hour', 3_600_000],
  ['24h', 'last 24 hours', 86_400_000],
  ['all', 'everything recorded', null],
  ['custom', 'from / to below', null],
  ['ids', 'these record ids', null],
];

function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function num(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

export function ReplayForm({ onClose }: { onClose: () => void }) {
  const [f, setF] = useState({
    range: '1h',
    start: '',
    end: '',
    ids: '',
    protocol: '',
    method: '',
    path: '',
    node_id: '',
    limit: '',
    speed: '0',
    rate: '',
    concurrency: '',
    ignore_headers: '',
    ignore_json: '',
    unsafe: '',
  });
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });

  const body = (): Record<string, unknown> => {
    const b: Record<string, unknown> = {};
    const range = RANGES.find((r) => r[0] === f.range);
    if (f.range === 'ids') b.ids = list(f.ids);
    else if (f.range === 'custom') {
      if (f.start !== '') b.start = new Date(f.start).toISOString();
      if (f.end !== '') b.end = new Date(f.end).toISOString();
    } else if (range?.[2]) b.start = new Date(Date.now() - range[2]).toISOString();
    if (f.protocol !== '') b.protocol = f.protocol;
    if (list(f.method).length > 0) b.method = list(f.method).map((m) => m.toUpperCase());
    if (f.path.trim() !== '') b.path = f.path.trim();
    if (f.node_id.trim() !== '') b.node_id = f.node_id.trim();
    for (const k of ['limit', 'speed', 'rate', 'concurrency'] as const) {
      const v = num(f[k]);
      if (v !== undefined) b[k] = v;
    }
    const headers = list(f.ignore_headers);
    const paths = list(f.ignore_json);
    if (headers.length > 0 || paths.length > 0) {
      b.compare = { ignore: { ...(headers.length > 0 && { headers }), ...(paths.length > 0 && { json_paths: paths }) } };
    }
    if (f.unsafe !== '') b.safety = { unsafe_methods: f.unsafe };
    return b;
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const doc = await call<ReplayDoc>('POST', '/api/replays', body());
      go({ page: 'replay', id: doc.id });
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel replay-form" onSubmit={(e) => void submit(e)} aria-label="Start a replay">
      <h2>Start a replay</h2>
      <fieldset>
        <legend>What to replay</legend>
        <label>
          <span>Records</span>
          <select value={f.range} onChange={set('range')} name="range">
            {RANGES.map(([v, label]) => (
              <option value={v}>{label}</option>
            ))}
          </select>
        </label>
        {f.range === 'custom' && (
          <>
            <label>
              <span>From</span>
              <input type="datetime-local" step="1" value={f.start} onInput={set('start')} />
            </label>
            <label>
              <span>To</span>
              <input type="datetime-local" step="1" value={f.end} onInput={set('end')} />
            </label>
          </>
        )}
        {f.range === 'ids' && (
          <label class="wide">
            <span>Record ids (comma or space separated)</span>
            <textarea rows={2} value={f.ids} onInput={set('ids')} required />
          </label>
        )}
        <label>
          <span>Protocol</span>
          <select value={f.protocol} onChange={set('protocol')} name="protocol">
            <option value="">any</option>
            <option value="http">HTTP</option>
            <option value="tcp">TCP</option>
          </select>
        </label>
        <label>
          <span>Methods</span>
          <input value={f.method} onInput={set('method')} placeholder="GET,HEAD" name="method" />
        </label>
        <label>
          <span>Path</span>
          <input value={f.path} onInput={set('path')} placeholder="/orders/**" name="path" />
        </label>
        <label>
          <span>Node id</span>
          <input value={f.node_id} onInput={set('node_id')} name="node_id" />
        </label>
        <label>
          <span>Limit</span>
          <input type="number" min="1" value={f.limit} onInput={set('limit')} name="limit" />
        </label>
      </fieldset>
      <fieldset>
        <legend>How</legend>
        <label>
          <span>Speed (0 = as fast as possible)</span>
          <input type="number" min="0" max="1000" step="any" value={f.speed} onInput={set('speed')} name="speed" />
        </label>
        <label>
          <span>Fixed rate (requests/s)</span>
          <input type="number" min="0" step="any" value={f.rate} onInput={set('rate')} name="rate" />
        </label>
        <label>
          <span>Concurrency</span>
          <input type="number" min="1" max="10000" value={f.concurrency} onInput={set('concurrency')} name="concurrency" />
        </label>
        <label>
          <span>Writes (POST, PUT, …)</span>
          <select value={f.unsafe} onChange={set('unsafe')} name="unsafe">
            <option value="">as configured</option>
            <option value="dry_run">dry run (count only)</option>
            <option value="skip">skip</option>
            <option value="replay">replay them</option>
          </select>
        </label>
      </fieldset>
      <fieldset>
        <legend>Also ignore</legend>
        <label class="wide">
          <span>Headers</span>
          <input value={f.ignore_headers} onInput={set('ignore_headers')} placeholder="date, x-request-id" name="ignore_headers" />
        </label>
        <label class="wide">
          <span>JSON paths</span>
          <input value={f.ignore_json} onInput={set('ignore_json')} placeholder="$.timestamp, $..trace_id" name="ignore_json" />
        </label>
      </fieldset>
      <ErrorBox error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Starting…' : 'Start replay'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
