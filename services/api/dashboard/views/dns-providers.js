// DNS-01 providers per zone: list (secrets come masked from the API), add, remove.
import { useState } from 'preact/hooks';
import { api, withQuery } from '../api.js';
import { dateTime, errorNotice, html, Notice, usePolling } from '../ui.js';

const examples = {
  rfc2136:
    '{"server": "ns1.example.com:53", "keyName": "acme-key", "keyAlgorithm": "hmac-sha256", "keySecret": "…"}',
  cloudflare: '{"apiToken": "…"}',
  webhook: '{"url": "https://dns-hook.example.com/", "token": "…"}',
  exec: '{"command": "/etc/gatehouse/dns/nsupdate.sh"}',
};

export function DnsProvidersView() {
  const [cursors, setCursors] = useState([]);
  const [page, setPage] = useState({ dnsProviders: [], nextCursor: null });
  const [notice, setNotice] = useState(null);
  const [kind, setKind] = useState('rfc2136');
  const cursor = cursors[cursors.length - 1];
  const load = async () => {
    try {
      setPage((await api('GET', withQuery('/v1/dns-providers', { limit: 50, cursor }))).body);
    } catch (error) {
      setNotice(errorNotice(error));
    }
  };
  usePolling(load, 15_000, [cursor]);

  async function add(event) {
    event.preventDefault();
    const element = event.currentTarget;
    const form = new FormData(element);
    let config;
    try {
      config = JSON.parse(form.get('config')?.toString() ?? '');
    } catch {
      return setNotice({ tone: 'error', text: 'The settings must be a JSON object, as in the example.' });
    }
    try {
      const { status, body } = await api('POST', '/v1/dns-providers', {
        zone: form.get('zone')?.toString().trim(),
        kind,
        config,
      });
      setNotice({ tone: 'ok', text: `${status} Added the provider of ${body.zone}.` });
      element.reset();
      await load();
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }

  async function remove(provider) {
    if (!confirm(`Remove the DNS provider of ${provider.zone}?`)) return;
    try {
      await api('DELETE', `/v1/dns-providers/${provider.id}`);
      await load();
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }

  return html`
    <h1>DNS providers</h1>
    <form class="card stack" method="post" onSubmit=${add} data-testid="add-dns-provider">
      <label>Zone<input name="zone" required placeholder="example.com" /></label>
      <label>Kind
        <select name="kind" value=${kind} onChange=${(event) => setKind(event.currentTarget.value)}>
          ${Object.keys(examples).map((name) => html`<option value=${name}>${name}</option>`)}
        </select>
      </label>
      <label>Settings (JSON)<textarea name="config" rows="3" required placeholder=${examples[kind]}></textarea></label>
      <div><button type="submit">Add provider</button></div>
    </form>
    <${Notice} notice=${notice} />
    <table data-testid="dns-providers">
      <thead><tr><th>Zone</th><th>Kind</th><th>Settings (secret masked)</th><th>Added</th><th></th></tr></thead>
      <tbody>${page.dnsProviders.map(
        (provider) => html`<tr>
          <td>${provider.zone}</td><td>${provider.kind}</td>
          <td class="mono">${JSON.stringify(provider.config)}</td>
          <td class="small">${dateTime(provider.createdAt)}</td>
          <td><button class="danger" onClick=${() => remove(provider)}>Remove</button></td>
        </tr>`,
      )}</tbody>
    </table>
    <div class="pager">
      <button class="secondary" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <button class="secondary" disabled=${!page.nextCursor} onClick=${() => setCursors([...cursors, page.nextCursor])}>Next</button>
    </div>
  `;
}
