// The certificate inventory: filters, sort by expiry, cursor pages, live status (polled every 3 s).
import { useState } from 'preact/hooks';
import { api, withQuery } from '../api.js';
import { Badge, dateTime, errorNotice, html, LifetimeBar, Notice, relative, usePolling } from '../ui.js';

export function CertificatesView() {
  const [filters, setFilters] = useState({ status: '', app: '', q: '', sort: 'expiry' });
  // The cursors of the pages before this one, so "Previous" can go back.
  const [cursors, setCursors] = useState([]);
  const [page, setPage] = useState({ certificates: [], nextCursor: null });
  const [notice, setNotice] = useState(null);
  const cursor = cursors[cursors.length - 1];

  usePolling(
    async () => {
      try {
        const { body } = await api('GET', withQuery('/v1/certificates', { ...filters, limit: 50, cursor }));
        setPage(body);
        setNotice(null);
      } catch (error) {
        setNotice(errorNotice(error));
      }
    },
    3000,
    [filters, cursor],
  );

  const change = (key) => (event) => {
    setCursors([]);
    setFilters({ ...filters, [key]: event.currentTarget.value });
  };
  return html`
    <h1>Certificates</h1>
    <div class="filters">
      <label>Status
        <select name="status" value=${filters.status} onChange=${change('status')}>
          <option value="">any</option>
          ${['pending', 'valid', 'renewing', 'failed', 'expired', 'fallback'].map(
            (status) => html`<option value=${status}>${status}</option>`,
          )}
        </select>
      </label>
      <label>App<input name="app" value=${filters.app} onChange=${change('app')} placeholder="app name" /></label>
      <label>Domain<input name="q" value=${filters.q} onChange=${change('q')} placeholder="part of a name" /></label>
      <label>Sort
        <select name="sort" value=${filters.sort} onChange=${change('sort')}>
          <option value="expiry">expiry, soonest first</option>
          <option value="created">created, oldest first</option>
        </select>
      </label>
    </div>
    <${Notice} notice=${notice} />
    <table data-testid="certificates">
      <thead>
        <tr><th>Names</th><th>Status</th><th>Source</th><th>Issuer</th><th>Key</th><th>Not after</th><th>Next renewal</th></tr>
      </thead>
      <tbody>
        ${page.certificates.map(
          (certificate) => html`<tr class="link" data-id=${certificate.id} data-status=${certificate.status}
            onClick=${() => {
              location.hash = `#/certificates/${certificate.id}`;
            }}>
            <td><a href=${`#/certificates/${certificate.id}`}>${certificate.names.join(', ')}</a></td>
            <td><${Badge} value=${certificate.status} />${
              certificate.lastError
                ? html`<div class="small muted">${certificate.lastError.kind}</div>`
                : null
            }</td>
            <td>${certificate.source}</td>
            <td class="small">${certificate.issuer ?? '—'}</td>
            <td class="small">${certificate.keyType}</td>
            <td class="small">${dateTime(certificate.notAfter)}<div class="muted">${relative(certificate.notAfter)}</div>
              <${LifetimeBar} notBefore=${certificate.notBefore} notAfter=${certificate.notAfter} /></td>
            <td class="small" data-testid="next-renewal">${
              certificate.nextRenewal.at ? relative(certificate.nextRenewal.at) : '—'
            } <span class="badge">${certificate.nextRenewal.reason}</span>
              <div class="muted">${certificate.nextRenewal.detail}</div></td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${page.certificates.length === 0 ? html`<p class="muted">No certificates match.</p>` : null}
    <div class="pager">
      <button class="secondary" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <button class="secondary" disabled=${!page.nextCursor} onClick=${() => setCursors([...cursors, page.nextCursor])}>Next</button>
      <span class="muted small">Page ${cursors.length + 1}</span>
    </div>
  `;
}
