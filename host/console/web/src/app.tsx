import { useEffect, useState } from 'preact/hooks';
import { api, setCsrfToken, whenSignedOut } from './api';
import { ActivityPage } from './activity-page';
import { useHashPath } from './hooks';
import { InstallPage } from './install-page';
import { live } from './live';
import { LoginPage } from './login-page';
import { ModulePage } from './module-page';
import { ModulesPage } from './modules-page';

type Auth = 'checking' | 'out' | 'in';

function Page(props: { readonly path: string }) {
  const module = /^\/modules\/([a-z0-9-]+)$/.exec(props.path);
  if (module !== null) return <ModulePage key={module[1]} code={module[1]!} />;
  if (props.path === '/activity') return <ActivityPage />;
  if (props.path === '/install') return <InstallPage />;
  return <ModulesPage />;
}

export function App() {
  const [auth, setAuth] = useState<Auth>('checking');
  const path = useHashPath();

  const signedIn = (csrf: string): void => {
    setCsrfToken(csrf);
    live.start();
    setAuth('in');
  };
  const signedOut = (): void => {
    setCsrfToken(null);
    live.stop();
    setAuth('out');
  };
  useEffect(() => {
    whenSignedOut(signedOut);
    api<{ authenticated: boolean; csrf: string | null }>('/console/session').then(
      (session) => (session.authenticated && session.csrf !== null ? signedIn(session.csrf) : signedOut()),
      signedOut,
    );
  }, []);
  useEffect(() => {
    // Move focus to the new page's heading, so keyboard and screen reader users land on it.
    const heading = document.querySelector<HTMLElement>('main h1');
    heading?.setAttribute('tabindex', '-1');
    heading?.focus({ preventScroll: true });
  }, [path]);

  if (auth === 'checking') return <main class="login"><p class="muted">Loading…</p></main>;
  if (auth === 'out') return <LoginPage onLoggedIn={signedIn} />;
  const logout = async (): Promise<void> => {
    await api('/console/logout', 'POST').catch(() => undefined);
    signedOut();
  };
  const link = (href: string, label: string, active: boolean) => (
    <a href={href} aria-current={active ? 'page' : undefined}>{label}</a>
  );
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <span class="brand">erpmod</span>
        <nav aria-label="Console">
          {link('#/', 'Modules', path === '/' || path.startsWith('/modules'))}
          {link('#/activity', 'Activity', path === '/activity')}
          {link('#/install', 'Install pack', path === '/install')}
        </nav>
        <button type="button" class="link" onClick={() => void logout()}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  );
}
