import { runService } from '@gatehouse/runtime';

// Mail delivery (SMTP_URL, ADMIN_EMAILS) arrives with the renewal and notification work; until then
// the notifier runs the shared runtime only: migrations, outbox relay, health and metrics.
await runService({
  name: 'notifier',
  configShape: {},
  defaultHealthPort: 9106,
  async start() {
    return undefined;
  },
});
