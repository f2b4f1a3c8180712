import { readFileSync } from 'node:fs';
import { certsIssued } from '@gatehouse/events';
import { consumerName, on, startConsumer } from '@gatehouse/messaging';
import { createSecretBox } from '@gatehouse/pki';
import { addMetricsSource, runService, startPeriodic } from '@gatehouse/runtime';
import { renewalSchedulerConfigShape } from './config.ts';
import { certificateMetricsSource } from './metrics/certificate-metrics.ts';
import { createAriClient } from './renewal/ari-client.ts';
import { schedulerTick } from './renewal/scheduler-tick.ts';

await runService({
  name: 'renewal-scheduler',
  configShape: renewalSchedulerConfigShape,
  defaultHealthPort: 9104,
  async start({ config, db, nc, js, jsm, logger }) {
    const box = createSecretBox(config.GATEHOUSE_MASTER_KEY);
    // The scheduler owns when certificates renew, so it exports the per-certificate gauges.
    addMetricsSource(
      'certificates',
      certificateMetricsSource(db, { limit: config.CERTIFICATE_METRICS_LIMIT }),
    );
    const ari = createAriClient({
      caBundlePem: config.ACME_CA_BUNDLE ? readFileSync(config.ACME_CA_BUNDLE, 'utf8') : undefined,
    });
    const clock = startPeriodic({
      name: 'renewal tick',
      everyMs: config.RENEWAL_TICK_SECONDS * 1000,
      logger,
      pass: (stopping) =>
        schedulerTick({
          db,
          box,
          ari,
          logger,
          batchSize: config.RENEWAL_BATCH_SIZE,
          remindersBeforeFallback: config.FALLBACK_AFTER_REMINDERS,
          expiringWithinMs: config.EXPIRING_WITHIN,
          stopping,
        }),
    });

    // A new certificate comes with its spread lifetime renewal time and, for ACME, an ARI poll due now (cert-issuer
    // writes both with the chain): wake the tick so the poll runs at once.
    const consumer = await startConsumer({
      nc,
      js,
      jsm,
      db,
      logger,
      name: consumerName('renewal-scheduler', 'certs'),
      subscriptions: [
        on(certsIssued, async (_event, { afterCommit }) => {
          afterCommit(() => clock.wake());
        }),
      ],
    });
    return {
      async stop() {
        // Whatever happens to the consumer, the clock stops too: a pass must never outlive the database.
        try {
          await consumer.stop();
        } finally {
          await clock.stop();
        }
      },
    };
  },
});
