// "Why no certificate?": one certificate with its next renewal and reason, the plain-words hint, preflight
// results, the attempts with the CA's problem, rate-limit state, and the renew action (202 / 429 + next slot).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Badge, dateTime, errorNotice, html, LifetimeBar, Notice, relative, usePolling } from '../ui.js';

export function CertificateView({ id }) {
  const [certificate, setCertificate] = useState(null);
  const [notice, setNotice] = useState(null);
  const [loadError, setLoadError] = useState(null);
  usePolling(
    async () => {
      try {
        setCertificate((await api('GET', `/v1/certificates/${encodeURIComponent(id)}`)).body);
        setLoadError(null);
      } catch (error) {
        setLoadError(errorNotice(error));
      }
    },
    3000,
    [id],
  );

  async function renew() {
    try {
      const { status, body } = await api('POST', `/v1/certificates/${encodeURIComponent(id)}/renew`);
      setNotice({ tone: 'ok', text: `${status} Accepted: renewal requested (status ${body.status}).` });
      setCertificate({ ...certificate, ...body });
    } catch (error) {
      setNotice(errorNotice(error));
    }
  }

  if (loadError && !certificate) return html`<${Notice} notice=${loadError} />`;
  if (!certificate) return html`<p class="muted">Loading…</p>`;
  const c = certificate;
  return html`
    <p><a href="#/certificates">← Certificates</a></p>
    <h1 data-testid="certificate-names">${c.names.join(', ')} <${Badge} value=${c.status} /></h1>
    <section class="card">
      <dl class="facts">
        <dt>ID</dt><dd class="mono">${c.id}</dd>
        <dt>Source</dt><dd>${c.source}</dd>
        <dt>Issuer</dt><dd>${c.issuer ?? '—'}</dd>
        <dt>Key</dt><dd>${c.keyType}</dd>
        <dt>Valid</dt><dd>${dateTime(c.notBefore)} → ${dateTime(c.notAfter)} (${relative(c.notAfter)})
          <${LifetimeBar} notBefore=${c.notBefore} notAfter=${c.notAfter} /></dd>
        <dt>Next renewal</dt>
        <dd data-testid="next-renewal">${c.nextRenewal.at ? `${dateTime(c.nextRenewal.at)} (${relative(c.nextRenewal.at)})` : '—'}
          — <strong>${c.nextRenewal.reason}</strong>: ${c.nextRenewal.detail}</dd>
        <dt>Apps</dt><dd>${c.apps.length ? c.apps.join(', ') : '—'}</dd>
        <dt>Issuance job</dt>
        <dd data-testid="job">${
          c.job
            ? `${c.job.reason}, ${c.job.status}${c.job.rounds ? `, ${c.job.rounds} failed round(s)` : ''}${
                c.job.nextAttemptAt ? `, next run ${dateTime(c.job.nextAttemptAt)}` : ''
              }${c.job.deferredReason ? ` (${c.job.deferredReason})` : ''}`
            : '—'
        }</dd>
        <dt>Rate limit</dt>
        <dd data-testid="rate-limit">${
          c.rateLimit === null
            ? 'not ordered by Gatehouse'
            : c.rateLimit.allowed
              ? 'an order is possible now'
              : `spent until ${dateTime(c.rateLimit.retryAt)}: ${c.rateLimit.reason}`
        }</dd>
      </dl>
      <p>
        <button onClick=${renew} disabled=${c.source !== 'acme' || c.releasedAt !== null} data-testid="renew">Renew now</button>
      </p>
      <${Notice} notice=${notice} />
    </section>

    ${
      c.lastError
        ? html`<section class="card" data-testid="why">
            <h2>${c.notAfter ? 'Why the renewal fails' : 'Why no certificate?'}</h2>
            <p><strong>${c.hint?.what ?? c.lastError.kind}</strong></p>
            <p class="mono">${c.lastError.kind}: ${c.lastError.message}</p>
            <p class="muted small">${c.lastError.at ? `at ${dateTime(c.lastError.at)}` : ''}${
              c.failureCount ? `, ${c.failureCount} failed round(s)` : ''
            }</p>
            ${c.hint ? html`<p>What to check:</p><ul class="check">${c.hint.check.map((item) => html`<li>${item}</li>`)}</ul>` : null}
          </section>`
        : null
    }

    <h2>Preflight</h2>
    ${
      c.preflight
        ? html`<p class="muted small">checked ${dateTime(c.preflight.checkedAt)}</p>
          <table data-testid="preflight">
            <thead><tr><th>Name</th><th>Check</th><th>Result</th><th>Detail</th></tr></thead>
            <tbody>${c.preflight.results.map(
              (result) => html`<tr><td>${result.name}</td><td>${result.check}</td>
                <td><${Badge} value=${result.ok ? 'ok' : 'fail'} /></td><td>${result.detail}</td></tr>`,
            )}</tbody>
          </table>`
        : html`<p class="muted">No preflight recorded yet.</p>`
    }

    <h2>Attempts</h2>
    ${
      c.attempts.length
        ? html`<table data-testid="attempts">
            <thead><tr><th>Started</th><th>CA</th><th>Challenge</th><th>Outcome</th><th>Problem</th><th>Took</th></tr></thead>
            <tbody>${[...c.attempts]
              .reverse()
              .slice(0, 20)
              .map(
                (attempt) => html`<tr>
                <td class="small">${dateTime(attempt.startedAt)}</td>
                <td class="small">${attempt.directoryUrl}</td>
                <td>${attempt.challengeType ?? '—'}</td>
                <td><${Badge} value=${attempt.outcome} /></td>
                <td class="small">${
                  attempt.error
                    ? html`<strong>${attempt.error.kind}</strong>${
                        attempt.problemType ? html` <span class="mono">${attempt.problemType}</span>` : null
                      }<div>${attempt.error.message}</div>`
                    : '—'
                }</td>
                <td class="small">${attempt.durationMs === null ? '—' : `${attempt.durationMs} ms`}</td>
              </tr>`,
              )}</tbody>
          </table>`
        : html`<p class="muted">No attempts yet.</p>`
    }
  `;
}
