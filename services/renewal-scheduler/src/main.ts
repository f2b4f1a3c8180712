import { runService } from '@gatehouse/runtime';

// Renewal timing arrives with the renewal work; until then the scheduler runs the shared runtime
// only: migrations, outbox relay, health and metrics.
await runService({
  name: 'renewal-scheduler',
  configShape: {},
  defaultHealthPort: 9104,
  async start() {
    return undefined;
  },
});
