import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig } from '@gatehouse/config';
import {
  certsExpiring,
  certsFallbackActivated,
  certsIssued,
  certsIssueFailed,
  createEvent,
  deploymentsTcpProxyFailed,
} from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import {
  type ServiceProcess,
  type SmtpReceiver,
  startReadyService,
  startSmtpReceiver,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { notifierConfigShape } from '../src/config.ts';

const REMINDER_MS = 3_000;

describe('notifier', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let smtp: SmtpReceiver;
  let notifier: ServiceProcess;
  beforeAll(async () => {
    [database, nats, smtp] = await Promise.all([
      createTestDatabase('notifier'),
      startNatsServer(),
      startSmtpReceiver(),
    ]);
    notifier = await startReadyService('notifier', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      ADMIN_EMAILS: 'ops@example.test',
      MAIL_FROM: 'Gatehouse <gatehouse@example.test>',
      NOTIFY_REMINDER_INTERVAL: `${REMINDER_MS / 1000}s`,
      NOTIFY_DIGEST_WINDOW: '1500ms',
      NOTIFY_DIGEST_THRESHOLD: '5',
      NOTIFY_RETRY_BACKOFF: '1s',
    });
  });
  afterAll(async () => {
    await notifier?.stop();
    await smtp?.stop().catch(() => {});
    await Promise.all([database?.drop(), nats?.stop()]);
  });

  /** A certificate row and, optionally, its last attempts (what the failure mail lists). */
  async function certificate(name: string, values: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    await database.db
      .insertInto('certificates')
      .values({ id, names: [name], names_key: name, status: 'failed', source: 'acme', ...values })
      .execute();
    return id;
  }

  async function attempt(certificateId: string, message: string): Promise<void> {
    await database.db
      .insertInto('order_attempts')
      .values({
        id: randomUUID(),
        certificate_id: certificateId,
        directory_url: 'https://ca.test/dir',
        challenge_type: 'http-01',
        outcome: 'failure',
        error_kind: 'validation',
        error_message: message,
        started_at: new Date(),
      })
      .execute();
  }

  /** Emits as the services do: through the outbox (the notifier's relay publishes it). */
  async function emit(event: ReturnType<typeof createEvent>): Promise<void> {
    await database.db.transaction().execute((trx) => enqueue(trx, event));
  }

  const failed = (certificateId: string, name: string, message: string, attemptNumber = 1) =>
    createEvent(certsIssueFailed, {
      source: 'test',
      subject: certificateId,
      data: {
        certificateId,
        names: [name],
        kind: 'validation',
        message,
        attempt: attemptNumber,
        retryAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });

  const issued = (certificateId: string, name: string) =>
    createEvent(certsIssued, {
      source: 'test',
      subject: certificateId,
      data: {
        certificateId,
        names: [name],
        issuer: 'https://ca.test/dir',
        serial: randomUUID().replace(/-/g, ''),
        notBefore: new Date().toISOString(),
        notAfter: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      },
    });

  const mailsAbout = (name: string) =>
    smtp.mails.filter((mail) => mail.subject.includes(name) || mail.body.includes(name));

  it('notifier - a failure mails once per episode: names, the kind in plain words, what to check and the last attempts', async () => {
    const name = 'shop.fail.test';
    const id = await certificate(name);
    await attempt(id, 'connection refused on port 80 of 203.0.113.7');
    await emit(
      failed(id, name, 'Fetching http://shop.fail.test/.well-known/acme-challenge/x: Connection refused'),
    );
    await emit(failed(id, name, 'still refused', 2));
    const [mail] = await waitFor('the failure mail', () => mailsAbout(name).length > 0 && mailsAbout(name));
    expect(mail!.to).toEqual(['ops@example.test']);
    expect(mail!.subject).toBe(`Gatehouse could not obtain the certificate for ${name}`);
    expect(mail!.body).toContain('What failed: the CA could not verify that this server controls the names');
    expect(mail!.body).toContain('What to check:');
    expect(mail!.body).toContain('port 80 must reach this server');
    expect(mail!.body).toContain('Connection refused');
    expect(mail!.body).toContain('Last attempts:');
    expect(mail!.body).toContain('connection refused on port 80 of 203.0.113.7');
    expect(mail!.body).toContain(`GET /v1/certificates/${id}`);
    // The second failure of the same episode queued nothing.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const rows = await database.db
      .selectFrom('notifications')
      .select('kind')
      .where('certificate_id', '=', id)
      .where('kind', '=', 'issue-failed')
      .execute();
    expect(rows).toHaveLength(1);
  });

  it('notifier - a TCP proxy whose port is held on the host mails the admins what to check', async () => {
    const message =
      'port 15433 is in use on the host by another process; the proxy is retried and serves the port once it is free';
    const event = createEvent(deploymentsTcpProxyFailed, {
      source: 'test',
      subject: randomUUID(),
      data: { appId: randomUUID(), appName: 'pg-notify', publicPort: 15433, reason: 'port-in-use', message },
    });
    await emit(event);
    const [mail] = await waitFor(
      'the tcp proxy mail',
      () => mailsAbout('pg-notify').length > 0 && mailsAbout('pg-notify'),
    );
    expect(mail!.to).toEqual(['ops@example.test']);
    expect(mail!.subject).toBe('Gatehouse cannot serve TCP port 15433 of app pg-notify');
    expect(mail!.body).toContain(`The error: ${message}`);
    expect(mail!.body).toContain("ss -ltnp 'sport = :15433'");
    expect(mail!.body).toContain('GET /v1/apps/pg-notify');
    const rows = await database.db
      .selectFrom('notifications')
      .select(['kind', 'certificate_id', 'dedupe_key'])
      .where('kind', '=', 'tcp-proxy-failed')
      .execute();
    expect(rows).toEqual([
      { kind: 'tcp-proxy-failed', certificate_id: null, dedupe_key: `tcp-proxy-failed:${event.id}` },
    ]);
  });

  it('notifier - reminders follow the cadence while it keeps failing, and a success ends them with a recovery mail', async () => {
    const name = 'shop.fail.test';
    const id = (
      await database.db
        .selectFrom('certificates')
        .select('id')
        .where('names_key', '=', name)
        .executeTakeFirstOrThrow()
    ).id;
    const reminders = await waitFor(
      'two reminders',
      () => {
        const found = mailsAbout(name).filter((mail) => mail.subject.startsWith('Reminder'));
        return found.length >= 2 && found;
      },
      { timeoutMs: 20_000 },
    );
    expect(reminders[0]!.subject).toBe(`Reminder 1: the certificate for ${name} still cannot be obtained`);
    expect(reminders[1]!.subject).toMatch(/^Reminder 2:/);
    expect(reminders[1]!.at.getTime() - reminders[0]!.at.getTime()).toBeGreaterThanOrEqual(REMINDER_MS - 500);

    await emit(issued(id, name));
    const recovered = await waitFor('the recovery mail', () =>
      mailsAbout(name).find((mail) => mail.subject === `Certificate for ${name} is working again`),
    );
    expect(recovered.body).toContain('after failures since');
    const count = mailsAbout(name).length;
    await new Promise((resolve) => setTimeout(resolve, REMINDER_MS + 1_500));
    expect(mailsAbout(name)).toHaveLength(count); // no reminder after the recovery
    expect(
      await database.db
        .selectFrom('certificate_alerts')
        .selectAll()
        .where('certificate_id', '=', id)
        .execute(),
    ).toEqual([]);
  });

  it('notifier - reminders end quietly once no app uses the certificate (its app was deleted)', async () => {
    const name = 'deleted.fail.test';
    const id = await certificate(name);
    await emit(failed(id, name, 'connection refused'));
    await waitFor('the failure mail and a reminder', () =>
      mailsAbout(name).some((mail) => mail.subject.startsWith('Reminder')),
    );
    // What the api does when the app goes: the certificate is released.
    await database.db
      .updateTable('certificates')
      .set({ released_at: new Date() })
      .where('id', '=', id)
      .execute();
    await waitFor(
      'the failure episode ended',
      async () =>
        (
          await database.db
            .selectFrom('certificate_alerts')
            .select('certificate_id')
            .where('certificate_id', '=', id)
            .execute()
        ).length === 0,
      { timeoutMs: 20_000 },
    );
    const count = mailsAbout(name).length;
    await new Promise((resolve) => setTimeout(resolve, REMINDER_MS + 1_500));
    expect(mailsAbout(name)).toHaveLength(count);
    expect(mailsAbout(name).some((mail) => mail.subject.includes('working again'))).toBe(false);
  });

  it('notifier - an expiry notice goes out once per certificate version; a fallback is announced', async () => {
    const name = 'upload.expiring.test';
    const notAfter = new Date(Date.now() + 3 * 86_400_000);
    const id = await certificate(name, { source: 'custom', status: 'valid', not_after: notAfter });
    const expiring = () =>
      createEvent(certsExpiring, {
        source: 'test',
        subject: id,
        data: { certificateId: id, names: [name], notAfter: notAfter.toISOString() },
      });
    await emit(expiring());
    await emit(expiring());
    const mail = await waitFor('the expiry mail', () => mailsAbout(name)[0]);
    expect(mail.subject).toMatch(
      new RegExp(`^The certificate for ${name.replace(/\./g, '\\.')} expires in [23] days$`),
    );
    expect(mail.body).toContain('upload a replacement with POST /v1/certificates');

    const fallbackName = 'gone.fallback.test';
    const fallbackId = await certificate(fallbackName, { status: 'fallback' });
    await emit(
      createEvent(certsFallbackActivated, {
        source: 'test',
        subject: fallbackId,
        data: {
          certificateId: fallbackId,
          names: [fallbackName],
          fallback: 'self-signed',
          reason: 'expired',
        },
      }),
    );
    const fallback = await waitFor('the fallback mail', () => mailsAbout(fallbackName)[0]);
    expect(fallback.subject).toBe(`Fallback certificate now served for ${fallbackName}`);
    expect(fallback.body).toContain('a self-signed certificate (browsers will warn)');
    await emit(issued(fallbackId, fallbackName));
    await waitFor('its recovery', () =>
      mailsAbout(fallbackName).some((m) => m.subject.includes('working again')),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(mailsAbout(name)).toHaveLength(1);
  });

  it('notifier - a mail server outage is retried until the mail goes out, to ADMIN_EMAILS and the admins in settings, and notifications.sent follows', async () => {
    await database.db
      .insertInto('settings')
      .values({ key: 'admin_emails', value: JSON.stringify(['lead@example.test', 'OPS@example.test']) })
      .execute();
    await smtp.stop();
    const name = 'outage.test';
    const id = await certificate(name);
    await emit(failed(id, name, 'timeout'));
    const failedRow = await waitFor('a failed send recorded', async () => {
      const row = await database.db
        .selectFrom('notifications')
        .selectAll()
        .where('certificate_id', '=', id)
        .executeTakeFirst();
      return row && row.attempts >= 1 && row.status === 'pending' && row;
    });
    expect(failedRow.last_error).toMatch(/ECONNREFUSED|connect/i);
    await smtp.start();
    const mail = await waitFor('the mail after the outage', () => mailsAbout(name)[0], { timeoutMs: 20_000 });
    expect(mail.to.sort()).toEqual(['lead@example.test', 'ops@example.test']);
    // The receiver has the mail a moment before the sender records it.
    const row = await waitFor('the notification recorded as sent', async () => {
      const found = await database.db
        .selectFrom('notifications')
        .selectAll()
        .where('certificate_id', '=', id)
        .executeTakeFirstOrThrow();
      return found.status === 'sent' && found;
    });
    expect(row).toMatchObject({ status: 'sent', kind: 'issue-failed' });
    expect(row.attempts).toBeGreaterThanOrEqual(2); // at least one failed try, then the one that went out
    expect(row.sent_at).not.toBeNull();
    const sent = await sql<{ data: { notificationId: string; recipients: string[] } }>`
      select envelope->'data' as data from outbox where type = 'notifications.sent'`.execute(database.db);
    expect(sent.rows.map((event) => event.data.notificationId)).toContain(row.id);
    await emit(issued(id, name));
    await waitFor('outage recovered', () =>
      mailsAbout(name).some((m) => m.subject.includes('working again')),
    );
    await database.db.deleteFrom('settings').where('key', '=', 'admin_emails').execute();
  });

  it('notifier - many failures at once become one digest instead of a flood', async () => {
    const names = Array.from({ length: 8 }, (_, index) => `bulk${index}.digest.test`);
    const ids = await Promise.all(names.map((name) => certificate(name)));
    const before = smtp.mails.length;
    await database.db.transaction().execute(async (trx) => {
      for (const [index, id] of ids.entries()) await enqueue(trx, failed(id, names[index]!, 'bulk failure'));
    });
    const digest = await waitFor('the digest', () =>
      smtp.mails
        .slice(before)
        .find((mail) => /^Gatehouse: \d+ certificate notifications$/.test(mail.subject)),
    );
    for (const name of names) expect(digest.body).toContain(name);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(smtp.mails.slice(before).filter((mail) => mail.subject.includes('could not obtain'))).toEqual([]);
    const rows = await database.db
      .selectFrom('notifications')
      .select('status')
      .where('certificate_id', 'in', ids)
      .where('kind', '=', 'issue-failed')
      .execute();
    expect(rows.map((row) => row.status)).toEqual(Array(8).fill('digested'));
  });

  it('notifier - a bad SMTP_URL or admin address stops the service with a message naming the variable', () => {
    const parse = (env: Record<string, string>) => () => loadConfig(z.object(notifierConfigShape), env);
    expect(parse({ SMTP_URL: 'http://mail.example.test' })).toThrow(ConfigError);
    expect(parse({ SMTP_URL: 'http://mail.example.test' })).toThrow(/SMTP_URL/);
    expect(parse({ ADMIN_EMAILS: 'ops@example.test, not-an-address' })).toThrow(/ADMIN_EMAILS/);
    expect(
      parse({ SMTP_URL: 'smtps://user:pw@mail.example.test:465', ADMIN_EMAILS: 'a@example.test' })(),
    ).toMatchObject({
      NOTIFY_REMINDER_INTERVAL: 12 * 3_600_000,
      NOTIFY_DIGEST_THRESHOLD: 5,
    });
  });
});
