import { useState } from 'preact/hooks';
import { api, messageOf } from './api';

/** The token form. The token goes to POST /console/login once; the page never stores it. */
export function LoginPage(props: { readonly onLoggedIn: (csrf: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await api<{ csrf: string }>('/console/login', 'POST', { token: token.trim() });
      setToken('');
      props.onLoggedIn(session.csrf);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card" onSubmit={submit} aria-describedby="login-help">
        <h1>erpmod console</h1>
        <p id="login-help" class="muted">
          Sign in with the admin token: <code>admin_token</code>, or the <code>admin-token</code> file in the host's data directory.
        </p>
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autoFocus
          value={token} onInput={(event) => setToken((event.target as HTMLInputElement).value)} />
        {error !== undefined && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
