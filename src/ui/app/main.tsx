/**
 * The web UI's entry: asks /api/session whether a login is needed, then shows the header with the
 * node's identity and the page the URL's hash names.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, get, onUnauthorized, setSession } from './api';
import { ErrorBox } from './components/ui';
import { reset, subscribe } from './live-store';
import { Live } from './pages/live';
import { Login } from './pages/login';
import { RecordDetail } from './pages/record-detail';
import { Records } from './pages/records';
import { ReplayDetail } from './pages/replay-detail';
import { Replays } from './pages/replays';
import { ResultDiff } from './pages/result-diff';
import { href, useRoute, type Route } from './route';
import type { NodeStatus, SessionDoc } from './types';

function Page({ route, status }: { route: Route; status: NodeStatus | null }) {
  switch (route.page) {
    case 'records':
      return <Records />;
    case 'record':
      return <RecordDetail id={route.id} />;
    case 'replays':
      return <Replays playback={status?.mode !== 'Record'} />;
    case 'replay':
      return <ReplayDetail id={route.id} />;
    case 'result':
      return <ResultDiff id={route.id} record={route.record} />;
    case 'live':
      return <Live />;
  }
}

function Shell({ session, onLogout }: { session: SessionDoc; onLogout: () => void }) {
  const route = useRoute();
  const [status, setStatus] = useState<NodeStatus | null>(null);
  useEffect(() => subscribe((s) => s && setStatus(s)), []);
  useEffect(() => {
    const names: Record<Route['page'], string> = {
      records: 'Records',
      record: 'Record',
      replays: 'Replays',
      replay: 'Replay',
      result: 'Result',
      live: 'Live',
    };
    document.title = `${names[route.page]} · ${status?.node_id ?? 'QProxy'}`;
  }, [route.page, status?.node_id]);
  const section = route.page === 'record' ? 'records' : route.page === 'replay' || route.page === 'result' ? 'replays' : route.page;
  const tabs: Array<[Route['page'], string]> = [
    ['records', 'Records'],
    ['replays', 'Replays'],
    ['live', 'Live'],
  ];
  const logout = async (): Promise<void> => {
    await call('DELETE', '/api/session').catch(() => undefined);
    onLogout();
  };
  return (
    <>
      {/* Not a #fragment link: the hash is the page's route. */}
      <button
        type="button"
        class="skip"
        onClick={() => {
          document.getElementById('content')?.focus();
        }}
      >
        Skip to content
      </button>
      <header class="top">
        <span class="brand">
          <span class="logo" aria-hidden="true" /> QProxy
        </span>
        {status && (
          <span class="node" title={`version ${status.version}`}>
            <span class={`mode mode-${status.mode.toLowerCase()}`}>{status.mode}</span> {status.node_id}
            {status.state === 'draining' && <span class="badge badge-warn">draining</span>}
          </span>
        )}
        <nav aria-label="Pages">
          {tabs.map(([page, label]) => (
            <a href={href({ page } as Route)} class={section === page ? 'active' : undefined} aria-current={section === page ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        {session.login_required && (
          <button type="button" class="logout" onClick={() => void logout()}>
            Log out
          </button>
        )}
      </header>
      <div id="content" tabIndex={-1}>
        <Page route={route} status={status} />
      </div>
    </>
  );
}

function App() {
  const [session, setSessionDoc] = useState<SessionDoc | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const adopt = (doc: SessionDoc): void => {
    setSession(doc);
    setSessionDoc(doc);
  };
  const check = (): void => {
    get<SessionDoc>('/api/session').then(adopt, (e: Error) => setError(e));
  };
  useEffect(() => {
    check();
    return onUnauthorized(() => {
      reset();
      setSessionDoc({ authenticated: false, login_required: true, csrf_token: null, expires_at: null });
    });
  }, []);
  if (error !== null) {
    return (
      <main class="page">
        <ErrorBox error={error} />
      </main>
    );
  }
  if (session === null) return <p class="muted page">Loading…</p>;
  if (!session.authenticated) return <Login onLogin={adopt} />;
  return (
    <Shell
      session={session}
      onLogout={() => {
        reset();
        adopt({ authenticated: false, login_required: true, csrf_token: null, expires_at: null });
      }}
    />
  );
}

render(<App />, document.getElementById('app')!);
