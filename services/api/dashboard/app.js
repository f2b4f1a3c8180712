// The dashboard shell: login (token checked by the API, kept in sessionStorage), hash routes, navigation.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, forgetToken, login, setUnauthorizedHandler, storedToken } from './api.js';
import { html, Notice } from './ui.js';
import { AppsView } from './views/apps.js';
import { CertificateView } from './views/certificate.js';
import { CertificatesView } from './views/certificates.js';
import { DnsProvidersView } from './views/dns-providers.js';
import { NotificationsView } from './views/notifications.js';
import { RateLimitsView } from './views/rate-limits.js';
import { SettingsView } from './views/settings.js';
import { UploadView } from './views/upload.js';

const sections = [
  ['certificates', 'Certificates'],
  ['apps', 'Apps'],
  ['rate-limits', 'Rate limits'],
  ['notifications', 'Notifications'],
  ['dns-providers', 'DNS providers'],
  ['upload', 'Upload'],
  ['settings', 'Settings'],
];

function currentRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return { section: parts[0] ?? 'certificates', id: parts[1] ? decodeURIComponent(parts[1]) : undefined };
}

function Login({ onLoggedIn }) {
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    // Never let the browser submit the form: the token must not end up in a URL or a request body to `/`.
    event.preventDefault();
    const token = new FormData(event.currentTarget).get('token')?.toString().trim() ?? '';
    if (!token) return setNotice({ tone: 'error', text: 'Paste the API token.' });
    setBusy(true);
    try {
      if (await login(token)) onLoggedIn();
      else setNotice({ tone: 'error', text: 'The token was refused: check GATEHOUSE_API_TOKEN.' });
    } catch (error) {
      setNotice({
        tone: 'error',
        text: error instanceof ApiError ? error.message : 'The API cannot be reached.',
      });
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="card login stack" method="post" onSubmit=${submit} data-testid="login">
    <h1>Gatehouse</h1>
    <label>API token<input name="token" type="password" autocomplete="current-password" required /></label>
    <button type="submit" disabled=${busy}>Log in</button>
    <${Notice} notice=${notice} />
    <p class="muted small">The token stays in this tab (sessionStorage) and is sent only to this server's API.</p>
  </form>`;
}

function Shell() {
  const [loggedIn, setLoggedIn] = useState(Boolean(storedToken()));
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    setUnauthorizedHandler(() => setLoggedIn(false));
    return () => removeEventListener('hashchange', onHash);
  }, []);
  if (!loggedIn) return html`<${Login} onLoggedIn=${() => setLoggedIn(true)} />`;
  const logout = () => {
    forgetToken();
    setLoggedIn(false);
  };
  return html`
    <header>
      <strong>Gatehouse</strong>
      <nav>
        ${sections.map(
          ([key, label]) =>
            html`<a href=${`#/${key}`} class=${route.section === key ? 'active' : ''}>${label}</a>`,
        )}
      </nav>
      <button class="secondary" onClick=${logout}>Log out</button>
    </header>
    <main>${view(route)}</main>
  `;
}

function view(route) {
  switch (route.section) {
    case 'certificates':
      return route.id
        ? html`<${CertificateView} id=${route.id} key=${route.id} />`
        : html`<${CertificatesView} />`;
    case 'apps':
      return html`<${AppsView} />`;
    case 'rate-limits':
      return html`<${RateLimitsView} />`;
    case 'notifications':
      return html`<${NotificationsView} />`;
    case 'dns-providers':
      return html`<${DnsProvidersView} />`;
    case 'upload':
      return html`<${UploadView} />`;
    case 'settings':
      return html`<${SettingsView} />`;
    default:
      return html`<p>Nothing here. <a href="#/certificates">Certificates</a></p>`;
  }
}

render(html`<${Shell} />`, document.getElementById('root'));
