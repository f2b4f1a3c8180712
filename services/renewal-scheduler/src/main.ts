import { createSecretBox } from '@gatehouse/pki';
import { runService } from '@gatehouse/runtime';
import { renewalSchedulerConfigShape } from './config.ts';
import { activateExpiredFallbacks } from './renewal/activate-fallback.ts';
import { claimDueRenewals } from './renewal/claim-due.ts';

await runService({
  name: 'renewal-scheduler',
  configShape: renewalSchedulerConfigShape,
  defaultHealthPort: 9104,
  async start({ config, db, logger }) {
    const box = createSecretBox(config.GATEHOUSE_MASTER_KEY);
    let stopping = false;
    let wake: (() => void) | undefined;
    const loop = (async () => {
      while (!stopping) {
        try {
          // Drain everything due now, a batch at a time, before sleeping.
          for (;;) {
            const claimed = await claimDueRenewals(db, config.RENEWAL_BATCH_SIZE);
            for (const renewal of claimed)
              logger.info({ cert_id: renewal.id, reason: renewal.reason }, 'renewal due');
            if (claimed.length < config.RENEWAL_BATCH_SIZE || stopping) break;
          }
          // Expired without a successful renewal: serve a fallback rather than nothing.
          for (;;) {
            const activated = await activateExpiredFallbacks(db, box, config.RENEWAL_BATCH_SIZE);
            for (const fallback of activated)
              logger.warn(
                { cert_id: fallback.id, names: fallback.names, fallback: fallback.fallback },
                'certificate expired without renewal: fallback activated',
              );
            if (activated.length < config.RENEWAL_BATCH_SIZE || stopping) break;
          }
        } catch (error) {
          logger.warn({ err: error }, 'renewal tick failed');
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.RENEWAL_TICK_SECONDS * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
    return {
      async stop() {
        stopping = true;
        wake?.();
        await loop;
      },
    };
  },
});
