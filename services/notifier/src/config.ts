import { commaList, duration } from '@gatehouse/config';
import { z } from 'zod';

/** notifier's own variables (see the README's configuration table). */
export const notifierConfigShape = {
  /**
   * Mail server, `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`. Unset: notifications
   * are still recorded (status `unsent`, and the API shows them), nothing is mailed.
   */
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, error: 'expected smtp://[user:pass@]host[:port] or smtps://…' })
    .optional(),
  /** Admin addresses, comma-separated; merged with the list set through PUT /v1/settings/admin-emails. */
  ADMIN_EMAILS: commaList(z.email()).optional(),
  /** The From of every mail. */
  MAIL_FROM: z.string().min(3).default('Gatehouse <gatehouse@localhost>'),
  /** While a certificate keeps failing, a reminder this long after the previous mail about it. */
  NOTIFY_REMINDER_INTERVAL: duration.prefault('12h'),
  /** More mails than this waiting at once become one digest. */
  NOTIFY_DIGEST_THRESHOLD: z.coerce.number().int().min(1).max(10_000).default(5),
  /** How long a new notification waits for others to join it in a digest. */
  NOTIFY_DIGEST_WINDOW: duration.prefault('30s'),
  /** Delays between tries of a mail the server did not take; the last repeats, for up to a day. */
  NOTIFY_RETRY_BACKOFF: commaList(duration).prefault('30s,2m,10m,30m,1h'),
};
