import { createTransport } from 'nodemailer';
import type { SendMail } from '../queue/sender.ts';

/**
 * nodemailer over SMTP_URL. Timeouts are short so a dead server fails a send quickly (it is retried later)
 * instead of holding the send loop; the credentials never appear in errors (nodemailer reports host only).
 */
export function createSmtpSender(url: string, from: string): { send: SendMail; close(): void } {
  const transport = createTransport(url, {
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.body });
    },
    close: () => transport.close(),
  };
}
