// Settings: the fallback wildcard certificate (set / clear) and the admin mail list.
import { useEffect, useState } from 'preact/hooks';
import { api, withQuery } from '../api.js';
import { errorNotice, html, Notice } from '../ui.js';

export function SettingsView() {
  const [settings, setSettings] = useState(null);
  const [wildcards, setWildcards] = useState([]);
  const [notice, setNotice] = useState(null);
  useEffect(() => {
    (async () => {
      try {
        setSettings((await api('GET', '/v1/settings')).body);
        // Candidates for the fallback: uploaded certificates with a wildcard name.
        const { body } = await api('GET', withQuery('/v1/certificates', { q: '*.', limit: 200 }));
        setWildcards(
          body.certificates.filter((c) => c.source === 'custom' && c.names.some((n) => n.startsWith('*.'))),
        );
      } catch (error) {
        setNotice(errorNotice(error));
      }
    })();
  }, []);

  async function run(action) {
    try {
      const { body } = await action();
      setSettings(body);
      setNotice({ tone: 'ok', text: 'Saved.' });
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }

  function setFallback(event) {
    event.preventDefault();
    const certificateId = new FormData(event.currentTarget).get('certificateId')?.toString() ?? '';
    run(() => api('PUT', '/v1/settings/fallback-certificate', { certificateId }));
  }

  function saveEmails(event) {
    event.preventDefault();
    const emails = (new FormData(event.currentTarget).get('emails')?.toString() ?? '')
      .split(/[\s,]+/)
      .filter(Boolean);
    run(() => api('PUT', '/v1/settings/admin-emails', { emails }));
  }

  if (!settings) return html`<${Notice} notice=${notice} />`;
  return html`
    <h1>Settings</h1>
    <${Notice} notice=${notice} />
    <form class="card stack" method="post" onSubmit=${setFallback} data-testid="fallback">
      <h2>Fallback wildcard certificate</h2>
      <p class="muted small">Served for names whose own certificate is missing or expired, before a self-signed one.</p>
      <p>Current: ${settings.fallbackCertificateId ? html`<a href=${`#/certificates/${settings.fallbackCertificateId}`} class="mono">${settings.fallbackCertificateId}</a>` : 'none'}</p>
      <label>Uploaded wildcard certificate
        <select name="certificateId" required>
          ${wildcards.map((c) => html`<option value=${c.id}>${c.names.join(', ')} (until ${c.notAfter?.slice(0, 10)})</option>`)}
        </select>
      </label>
      <div>
        <button type="submit" disabled=${wildcards.length === 0}>Set fallback</button>
        ${' '}<button type="button" class="secondary" disabled=${!settings.fallbackCertificateId}
          onClick=${() => run(() => api('DELETE', '/v1/settings/fallback-certificate'))}>Clear</button>
      </div>
    </form>
    <form class="card stack" method="post" onSubmit=${saveEmails} data-testid="admin-emails">
      <h2>Admin e-mails</h2>
      <p class="muted small">Besides ADMIN_EMAILS: who gets failure, expiry and fallback mails.</p>
      <label>Addresses (one per line)<textarea name="emails" rows="4">${settings.adminEmails.join('\n')}</textarea></label>
      <div><button type="submit">Save</button></div>
    </form>
  `;
}
