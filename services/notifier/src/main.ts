import { consumerName, startConsumer } from '@gatehouse/messaging';
import { runService, startPeriodic } from '@gatehouse/runtime';
import { certificateEventSubscriptions } from './alerts/on-certificate-events.ts';
import { deploymentEventSubscriptions } from './alerts/on-deployment-events.ts';
import { queueDueReminders } from './alerts/reminders.ts';
import { notifierConfigShape } from './config.ts';
import { createSmtpSender } from './mail/smtp.ts';
import { sendDueNotifications } from './queue/sender.ts';

/** How often the send queue and the reminder clock are looked at. */
const LOOP_MS = 1_000;

await runService({
  name: 'notifier',
  configShape: notifierConfigShape,
  defaultHealthPort: 9106,
  async start({ config, db, nc, js, jsm, logger }) {
    const smtp = config.SMTP_URL ? createSmtpSender(config.SMTP_URL, config.MAIL_FROM) : undefined;
    if (!smtp) logger.warn('SMTP_URL is not set: notifications are recorded, not mailed');
    // One shared durable consumer: each event makes its notification in one replica.
    const consumer = await startConsumer({
      nc,
      js,
      jsm,
      db,
      logger,
      name: consumerName('notifier', 'certs'),
      subscriptions: certificateEventSubscriptions({ holdMs: config.NOTIFY_DIGEST_WINDOW }),
    });
    // A consumer reads one stream: deployment events (a TCP proxy that cannot serve its port) come through a second.
    const deploymentConsumer = await startConsumer({
      nc,
      js,
      jsm,
      db,
      logger,
      name: consumerName('notifier', 'deployments'),
      subscriptions: deploymentEventSubscriptions({ holdMs: config.NOTIFY_DIGEST_WINDOW }),
    });

    const clock = startPeriodic({
      name: 'notifier pass',
      everyMs: LOOP_MS,
      logger,
      async pass(stopping) {
        await queueDueReminders(db, {
          intervalMs: config.NOTIFY_REMINDER_INTERVAL,
          holdMs: config.NOTIFY_DIGEST_WINDOW,
          limit: 200,
        });
        // Drain what is due, a batch at a time.
        while (
          !stopping() &&
          (await sendDueNotifications({
            db,
            logger,
            send: smtp?.send,
            adminEmails: config.ADMIN_EMAILS ?? [],
            digestThreshold: config.NOTIFY_DIGEST_THRESHOLD,
            retryBackoffMs: config.NOTIFY_RETRY_BACKOFF,
          })) > 0
        );
      },
    });
    return {
      async stop() {
        // Whatever happens to the consumer, the clock stops too: a pass must never outlive the database.
        try {
          await Promise.all([consumer.stop(), deploymentConsumer.stop()]);
        } finally {
          await clock.stop();
          smtp?.close();
        }
      },
    };
  },
});
