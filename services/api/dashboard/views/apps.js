// Apps: list with container state, TCP proxy ports and certificates (polled), create (domains, www mode,
// challenge, certificate mode, command, TCP ports), delete.
import { useState } from 'preact/hooks';
import { api, withQuery } from '../api.js';
import { Badge, errorNotice, html, Notice, usePolling } from '../ui.js';

export function AppsView() {
  const [cursors, setCursors] = useState([]);
  const [page, setPage] = useState({ apps: [], nextCursor: null });
  const [notice, setNotice] = useState(null);
  const cursor = cursors[cursors.length - 1];
  const load = async () => {
    try {
      setPage((await api('GET', withQuery('/v1/apps', { limit: 50, cursor }))).body);
    } catch (error) {
      setNotice(errorNotice(error));
    }
  };
  usePolling(load, 3000, [cursor]);

  async function create(event) {
    event.preventDefault();
    const element = event.currentTarget;
    const form = new FormData(element);
    const challenge = form.get('challenge')?.toString() ?? 'auto';
    // Empty: the api picks by name (local-ca for internal names and IPs, else acme).
    const mode = form.get('mode')?.toString() ?? '';
    const domains = (form.get('domains')?.toString() ?? '')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((url) =>
        challenge === 'auto' && mode === ''
          ? url
          : { url, ...(challenge === 'auto' ? {} : { challenge }), ...(mode === '' ? {} : { mode }) },
      );
    const command = form.get('command')?.toString().trim();
    const tcp = tcpPortsOf(form.get('tcp')?.toString() ?? '');
    if (!tcp) {
      setNotice({
        tone: 'error',
        text: 'TCP ports: give PUBLIC[:TARGET][/tls] each, e.g. 5433:5432/tls, 6380',
      });
      return;
    }
    const body = {
      name: form.get('name')?.toString().trim() ?? '',
      image: form.get('image')?.toString().trim() ?? '',
      port: Number(form.get('port')),
      domains,
      www: form.get('www')?.toString() ?? 'none',
      ...(command ? { command: ['sh', '-c', command] } : {}),
      ...(tcp.length > 0 ? { tcp } : {}),
    };
    try {
      const { status, body: app } = await api('POST', '/v1/apps', body);
      setNotice({ tone: 'ok', text: `${status} Created app ${app.name}.` });
      element.reset();
      await load();
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }

  async function remove(name) {
    if (!confirm(`Delete app ${name}? Its container and routes go away; its certificates are kept.`)) return;
    try {
      const { status } = await api('DELETE', `/v1/apps/${encodeURIComponent(name)}`);
      setNotice({ tone: 'ok', text: `${status} Deleting app ${name}.` });
      await load();
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }

  return html`
    <h1>Apps</h1>
    <form class="card grid" method="post" onSubmit=${create} data-testid="create-app">
      <label>Name<input name="name" required pattern="[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?" placeholder="shop" /></label>
      <label>Image<input name="image" required placeholder="nginx:1.27" /></label>
      <label>Port<input name="port" type="number" min="1" max="65535" required /></label>
      <label>Domains (one per line)<textarea name="domains" rows="2" placeholder="https://shop.example.com"></textarea></label>
      <label>www
        <select name="www">
          <option value="none">none</option>
          <option value="redirect-to-apex">redirect www → apex</option>
          <option value="redirect-to-www">redirect apex → www</option>
          <option value="both">serve both</option>
        </select>
      </label>
      <label>Challenge
        <select name="challenge">
          <option value="auto">auto</option>
          <option value="http-01">http-01</option>
          <option value="dns-01">dns-01</option>
        </select>
      </label>
      <label>Certificate
        <select name="mode">
          <option value="">by name (ACME; local CA for internal names)</option>
          <option value="acme">acme</option>
          <option value="local-ca">local CA</option>
          <option value="custom">custom (upload)</option>
          <option value="fallback-only">fallback only</option>
        </select>
      </label>
      <label>Command (optional, run with sh -c)<input name="command" /></label>
      <label>TCP ports (optional)<input name="tcp" placeholder="5433:5432/tls, 6380" /></label>
      <div><button type="submit">Create app</button></div>
    </form>
    <${Notice} notice=${notice} />
    <table data-testid="apps">
      <thead><tr><th>Name</th><th>Image</th><th>Domains</th><th>TCP ports</th><th>Container</th><th>Certificates</th><th></th></tr></thead>
      <tbody>
        ${page.apps.map(
          (app) => html`<tr data-name=${app.name}>
            <td>${app.name}</td>
            <td class="small">${app.image}<div class="muted">port ${app.port}</div></td>
            <td class="small">${app.domains.map((domain) => html`<div>${domain.url} <span class="muted">${domain.challenge} · ${domain.mode}</span></div>`)}</td>
            <td class="small" data-testid="tcp">${
              app.tcp?.length
                ? app.tcp.map((port) => html`<${TcpPort} port=${port} appPort=${app.port} />`)
                : html`<span class="muted">—</span>`
            }</td>
            <td>${
              app.container
                ? html`<${Badge} value=${app.container.state} />${
                    app.container.error ? html`<div class="small">${app.container.error.message}</div>` : null
                  }`
                : html`<span class="muted">not deployed yet</span>`
            }</td>
            <td>${app.certificates.map(
              (certificate) =>
                html`<div><a href=${`#/certificates/${certificate.id}`}><${Badge} value=${certificate.status} /></a></div>`,
            )}</td>
            <td><button class="danger" onClick=${() => remove(app.name)}>Delete</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    <div class="pager">
      <button class="secondary" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <button class="secondary" disabled=${!page.nextCursor} onClick=${() => setCursors([...cursors, page.nextCursor])}>Next</button>
    </div>
  `;
}

/**
 * The form's TCP ports, `public[:target][/tls]` separated by commas or spaces (the form `gatehouse apps create --tcp`
 * takes), as the api's entries; null when one is not of that form. Ranges and reserved ports are the api's to refuse.
 */
function tcpPortsOf(text) {
  const entries = [];
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    const match = /^(\d{1,5})(?::(\d{1,5}))?(\/tls)?$/i.exec(item);
    if (!match) return null;
    entries.push({
      publicPort: Number(match[1]),
      ...(match[2] === undefined ? {} : { targetPort: Number(match[2]) }),
      ...(match[3] === undefined ? {} : { tls: true }),
    });
  }
  return entries;
}

/**
 * One TCP proxy: public port → the container's port (the app's when the api says null), TLS or plain, and the
 * deployer's view of it (starting, running, failed with the reason, e.g. the port held on the host).
 */
function TcpPort({ port, appPort }) {
  // One line: htm drops whitespace that spans a line break.
  const target = port.targetPort ?? appPort;
  return html`<div data-port=${port.publicPort} data-status=${port.status ?? ''}>
    ${port.publicPort} → ${target} <span class="muted">${port.tls ? 'TLS' : 'plain'}</span> ${port.status ? html`<${Badge} value=${port.status} />` : null}
    ${port.error ? html`<div class="small" data-testid="tcp-error">${port.error.message}</div>` : null}
  </div>`;
}
