/**
 * A JSON document as a tree of native <details> elements: keyboard-usable (Tab, Enter/Space) with no
 * script of its own; the first levels open, long arrays and objects shown in slices.
 */
import { useState } from 'preact/hooks';

const OPEN_LEVELS = 2;
const SLICE = 100;

function isRedacted(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith('REDACTED');
}

function Leaf({ value }: { value: unknown }) {
  if (value === null) return <span class="j-null">null</span>;
  if (typeof value === 'string') {
    return (
      <span class={isRedacted(value) ? 'j-str redacted-mark' : 'j-str'} title={isRedacted(value) ? 'redacted at record time' : undefined}>
        {JSON.stringify(value)}
      </span>
    );
  }
  if (typeof value === 'number') return <span class="j-num">{String(value)}</span>;
  if (typeof value === 'boolean') return <span class="j-bool">{String(value)}</span>;
  return <span>{JSON.stringify(value)}</span>;
}

function Node({ name, value, depth }: { name: string | null; value: unknown; depth: number }) {
  const [shown, setShown] = useState(SLICE);
  const label = name === null ? null : <span class="j-key">{name}: </span>;
  if (value === null || typeof value !== 'object') {
    return (
      <div class="j-row">
        {label}
        <Leaf value={value} />
      </div>
    );
  }
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const open = Array.isArray(value) ? '[' : '{';
  const close = Array.isArray(value) ? ']' : '}';
  if (entries.length === 0) {
    return (
      <div class="j-row">
        {label}
        <span class="j-punct">
          {open}
          {close}
        </span>
      </div>
    );
  }
  return (
    <details class="j-node" open={depth < OPEN_LEVELS}>
      <summary>
        {label}
        <span class="j-punct">{open}</span>
        <span class="j-count">
          {entries.length} {Array.isArray(value) ? (entries.length === 1 ? 'item' : 'items') : entries.length === 1 ? 'key' : 'keys'}
        </span>
        <span class="j-punct">{close}</span>
      </summary>
      <div class="j-children">
        {entries.slice(0, shown).map(([k, v]) => (
          <Node key={k} name={Array.isArray(value) ? k : JSON.stringify(k)} value={v} depth={depth + 1} />
        ))}
        {entries.length > shown && (
          <button type="button" class="link" onClick={() => setShown(shown + SLICE * 10)}>
            show {Math.min(SLICE * 10, entries.length - shown)} more of {entries.length - shown}
          </button>
        )}
      </div>
    </details>
  );
}

export function JsonTree({ value }: { value: unknown }) {
  return (
    <div class="json-tree">
      <Node name={null} value={value} depth={0} />
    </div>
  );
}
