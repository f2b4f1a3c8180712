// The notifications timeline: what the notifier recorded and mailed, newest first, in pages.
import { useState } from 'preact/hooks';
import { api, withQuery } from '../api.js';
import { Badge, dateTime, errorNotice, html, Notice, usePolling } from '../ui.js';

export function NotificationsView() {
  const [cursors, setCursors] = useState([]);
  const [page, setPage] = useState({ notifications: [], nextCursor: null });
  const [notice, setNotice] = useState(null);
  const cursor = cursors[cursors.length - 1];
  usePolling(
    async () => {
      try {
        setPage((await api('GET', withQuery('/v1/notifications', { limit: 25, cursor }))).body);
      } catch (error) {
        setNotice(errorNotice(error));
      }
    },
    10_000,
    [cursor],
  );
  return html`
    <h1>Notifications</h1>
    <${Notice} notice=${notice} />
    ${page.notifications.length === 0 ? html`<p class="muted">No notifications.</p>` : null}
    <ul class="timeline" data-testid="notifications">
      ${page.notifications.map(
        (notification) => html`<li>
          <strong>${dateTime(notification.createdAt)}</strong> <${Badge} value=${notification.kind} />
          <${Badge} value=${notification.status} /> ${notification.subject}
          ${notification.certificateId ? html` — <a href=${`#/certificates/${notification.certificateId}`}>certificate</a>` : null}
          <div class="small muted">to ${notification.recipients.join(', ') || 'nobody'}${
            notification.lastError ? `; last error: ${notification.lastError}` : ''
          }</div>
          <details><summary class="small">mail text</summary><pre>${notification.body}</pre></details>
        </li>`,
      )}
    </ul>
    <div class="pager">
      <button class="secondary" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
      <button class="secondary" disabled=${!page.nextCursor} onClick=${() => setCursors([...cursors, page.nextCursor])}>Older</button>
    </div>
  `;
}
