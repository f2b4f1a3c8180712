import { Counter } from 'prom-client';

/** notifier's Prometheus metrics; `kind` is a notification kind (a fixed set) or `digest`. */
export const notificationMetrics = {
  /**
   * Mail handed to the SMTP server (`sent`), refused and queued again (`retrying`), or given up after a day of
   * refusals (`given-up`). A digest counts once, as kind `digest`.
   */
  sends: new Counter({
    name: 'gatehouse_notifications_sent_total',
    help: 'Notification mails by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
  }),
};
