// Rate-limit budgets from the ledger: used / max, window, next free slot.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { dateTime, errorNotice, html, Notice, relative, usePolling } from '../ui.js';

const kinds = {
  account: 'new orders per account',
  'registered-domain': 'certificates per registered domain',
  'name-set': 'duplicate certificates (same names)',
  name: 'failed authorizations per name',
};

export function RateLimitsView() {
  const [data, setData] = useState(null);
  const [notice, setNotice] = useState(null);
  usePolling(
    async () => {
      try {
        setData((await api('GET', '/v1/rate-limits')).body);
      } catch (error) {
        setNotice(errorNotice(error));
      }
    },
    10_000,
    [],
  );
  return html`
    <h1>Rate limits</h1>
    <p class="muted">CA budgets Gatehouse mirrors, counted in its ledger; only budgets with use in their window are listed.</p>
    <${Notice} notice=${notice} />
    ${
      data && data.budgets.length === 0
        ? html`<p class="muted">No budget in use.</p>`
        : html`<table data-testid="rate-limits">
            <thead><tr><th>Budget</th><th>For</th><th>CA</th><th>Used</th><th>Window</th><th>Next free slot</th></tr></thead>
            <tbody>${(data?.budgets ?? []).map(
              (budget) => html`<tr>
                <td>${kinds[budget.kind] ?? budget.kind}</td>
                <td class="mono">${budget.subject}</td>
                <td class="small">${budget.directoryUrl ?? '—'}</td>
                <td>${budget.used} / ${budget.max}</td>
                <td>${formatWindow(budget.windowSeconds)}</td>
                <td>${budget.nextSlotAt ? `${dateTime(budget.nextSlotAt)} (${relative(budget.nextSlotAt)})` : 'free now'}</td>
              </tr>`,
            )}</tbody>
          </table>`
    }
  `;
}

function formatWindow(seconds) {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
