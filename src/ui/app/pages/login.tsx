/** The login form: the API token is posted once and exchanged for an HttpOnly session cookie. */
import { useState } from 'preact/hooks';
import { ApiFailure, call } from '../api';
import type { SessionDoc } from '../types';

export function Login({ onLogin }: { onLogin: (doc: SessionDoc) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const doc = await call<SessionDoc>('POST', '/api/session', { token });
      setToken('');
      onLogin(doc);
    } catch (err) {
      setError(err instanceof ApiFailure && err.status === 401 ? 'That is not the API token of this node.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="login-form panel" onSubmit={(e) => void submit(e)}>
        <h1>
          <span class="logo" aria-hidden="true" /> QProxy
        </h1>
        <p class="muted">Log in with this node's API token (<code>api.token</code> or <code>QPROXY_API_TOKEN</code>).</p>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          autoFocus
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        {error !== null && (
          <p class="error-box" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || token === ''}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p class="muted small">The token is sent once; the browser keeps an HttpOnly session cookie instead (12 hours at most, 30 minutes idle).</p>
      </form>
    </main>
  );
}
