/** Small pieces every page uses. */
import type { ComponentChildren } from 'preact';
import { ApiFailure } from '../api';

export function ErrorBox({ error }: { error: Error | null }) {
  if (error === null) return null;
  const code = error instanceof ApiFailure ? error.code : null;
  return (
    <div class="error-box" role="alert">
      {code !== null && <code>{code}</code>} {error.message}
    </div>
  );
}

export function Badge({ kind, children, title }: { kind: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${kind}`} title={title}>
      {children}
    </span>
  );
}

export function Stat({ label, value, kind }: { label: string; value: ComponentChildren; kind?: string }) {
  return (
    <div class={`stat${kind ? ` stat-${kind}` : ''}`}>
      <div class="stat-value">{value}</div>
      <div class="stat-label">{label}</div>
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel">
      <header class="panel-head">
        <h2>{title}</h2>
        {actions && <div class="panel-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A key/value grid for record and replay facts. */
export function Facts({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The button under a list that has a next page. */
export function LoadMore({ shown, onClick }: { shown: boolean; onClick: () => void }) {
  if (!shown) return null;
  return (
    <p class="more">
      <button type="button" onClick={onClick}>
        Load more
      </button>
    </p>
  );
}
