// Upload a custom certificate (PEM certificate, chain, key); the API validates and answers 201 or what is wrong.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorNotice, html, Notice } from '../ui.js';

export function UploadView() {
  const [notice, setNotice] = useState(null);
  const [created, setCreated] = useState(null);
  async function submit(event) {
    event.preventDefault();
    const element = event.currentTarget;
    const form = new FormData(element);
    const body = {
      certificate: form.get('certificate')?.toString() ?? '',
      privateKey: form.get('privateKey')?.toString() ?? '',
    };
    const chain = form.get('chain')?.toString().trim();
    if (chain) body.chain = chain;
    try {
      const { status, body: certificate } = await api('POST', '/v1/certificates', body);
      setCreated(certificate);
      const warnings = certificate.warnings.length ? ` Warnings: ${certificate.warnings.join('; ')}` : '';
      setNotice({ tone: 'ok', text: `${status} Created: ${certificate.names.join(', ')}.${warnings}` });
      element.reset();
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }
  return html`
    <h1>Upload a certificate</h1>
    <form class="card stack" method="post" onSubmit=${submit} data-testid="upload">
      <label>Certificate (PEM, leaf first; the chain may follow)<textarea name="certificate" rows="8" required></textarea></label>
      <label>Chain (PEM, optional)<textarea name="chain" rows="6"></textarea></label>
      <label>Private key (PEM, unencrypted; stored sealed, never shown again)<textarea name="privateKey" rows="6" required></textarea></label>
      <div><button type="submit">Upload</button></div>
      <${Notice} notice=${notice} />
      ${created ? html`<p><a href=${`#/certificates/${created.id}`}>Open the uploaded certificate</a></p>` : null}
    </form>
  `;
}
