import {
  type CertIssuerProcess,
  certificateRow,
  masterKey,
  requestCertificate,
  type ServiceProcess,
  type SmtpReceiver,
  startCertIssuer,
  startReadyService,
  startSmtpReceiver,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  createTestRoles,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  type TestRoles,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);
const name = `outage-${suffix}.test`;
const REMINDER_S = 4;

// Issue 5's second acceptance, with every piece real: cert-issuer, renewal-scheduler and notifier processes,
// Pebble (30-second certificates) killed at renewal time, and an SMTP server receiving the mails. Each process
// connects as its own Postgres role (compose's least privilege, DB_MIGRATE=false): the failure, reminder, fallback
// and recovery paths are the widest the scheduler and notifier take, and none may hit a privilege it lacks.
describe('renewal outage e2e', { timeout: 300_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let smtp: SmtpReceiver;
  let issuer: CertIssuerProcess;
  let roles: TestRoles;
  let services: ServiceProcess[] = [];
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble, smtp] = await Promise.all([
      createTestDatabase(`outage_${suffix}`),
      startNatsServer(),
      startPebble({ httpPort: http01Port, certificateValiditySeconds: 30, nonceRejectPercent: 0 }),
      startSmtpReceiver(),
    ]);
    roles = await createTestRoles(database);
    const base = { NATS_URL: nats.url, DB_MIGRATE: 'false' };
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: { ISSUANCE_RETRY_LADDER: '2s', DATABASE_URL: roles.urls['cert-issuer'], DB_MIGRATE: 'false' },
    });
    services = await Promise.all([
      startReadyService('renewal-scheduler', {
        ...base,
        DATABASE_URL: roles.urls['renewal-scheduler'],
        RENEWAL_TICK_SECONDS: '1',
        GATEHOUSE_MASTER_KEY: masterKey,
        ACME_CA_BUNDLE: pebble.listenerCaPath,
      }),
      startReadyService('notifier', {
        ...base,
        DATABASE_URL: roles.urls.notifier,
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        ADMIN_EMAILS: 'ops@example.test',
        NOTIFY_REMINDER_INTERVAL: `${REMINDER_S}s`,
        NOTIFY_DIGEST_WINDOW: '300ms',
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([issuer, ...services].map((service) => service?.stop()));
    await smtp?.stop().catch(() => {});
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
    await roles?.drop();
  });

  const mails = () => smtp.mails.filter((mail) => mail.subject.includes(name) || mail.body.includes(name));

  it('renewal outage e2e - Pebble down at renewal: one failure mail with the reason, reminders on cadence, fallback at expiry, then a real certificate and a recovery mail', async () => {
    const id = await requestCertificate(database.db, [name], { challenge: 'http-01' });
    const first = await waitFor(
      'the first certificate',
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    await pebble.kill(); // The CA is gone before renewal is due (about half the lifetime).
    const renewAt = first.renew_at!.getTime();

    const failureMail = await waitFor(
      'the failure mail',
      () => mails().find((mail) => mail.subject.startsWith('Gatehouse could not renew')),
      { timeoutMs: 30_000 },
    ).catch((error) => {
      throw new Error(`${issuer.output().slice(-2000)}\n${services[1]!.output().slice(-2000)}`, {
        cause: error,
      });
    });
    expect(failureMail.at.getTime()).toBeGreaterThanOrEqual(renewAt);
    expect(failureMail.body).toContain('What failed: the CA could not be reached');
    expect(failureMail.body).toContain('The current certificate stays in use until it expires');
    expect(failureMail.body).toContain('Last attempts:');

    // Expiry without a renewal: the fallback is served and announced.
    const fallback = await waitFor(
      'the fallback',
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'fallback' && row;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(fallback.fallback_activated_at!.getTime()).toBeGreaterThanOrEqual(first.not_after!.getTime());
    expect(fallback.fallback_chain_pem).toContain('BEGIN CERTIFICATE');
    const fallbackMail = await waitFor('the fallback mail', () =>
      mails().find((mail) => mail.subject === `Fallback certificate now served for ${name}`),
    );
    expect(fallbackMail.body).toContain('expired without a successful renewal');

    // Reminders while it stays down, on the cadence (the failure mail opened the episode).
    const reminders = await waitFor(
      'two reminders',
      () => {
        const found = mails().filter((mail) => mail.subject.startsWith('Reminder'));
        return found.length >= 2 && found;
      },
      { timeoutMs: 30_000 },
    );
    expect(reminders[1]!.at.getTime() - reminders[0]!.at.getTime()).toBeGreaterThanOrEqual(
      REMINDER_S * 1000 - 1_000,
    );
    expect(mails().filter((mail) => mail.subject.startsWith('Gatehouse could not renew'))).toHaveLength(1);

    // The CA returns: the retry ladder gets a real certificate and the admins hear it is over.
    await pebble.start();
    const renewed = await waitFor(
      'a real certificate again',
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== first.serial && row;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    ).catch(async (error) => {
      const row = await certificateRow(database.db, id);
      throw new Error(
        `status ${row.status}, last error ${row.last_error_kind}: ${row.last_error_message}\n${issuer.output().slice(-4000)}`,
        { cause: error },
      );
    });
    expect(renewed.not_after!.getTime()).toBeGreaterThan(Date.now());
    const recovered = await waitFor('the recovery mail', () =>
      mails().find((mail) => mail.subject === `Certificate for ${name} is working again`),
    );
    expect(recovered.to).toEqual(['ops@example.test']);
    const kinds = await database.db
      .selectFrom('notifications')
      .select('kind')
      .where('certificate_id', '=', id)
      .orderBy('created_at')
      .execute();
    expect(kinds.filter((row) => row.kind === 'issue-failed')).toHaveLength(1);
    expect(kinds.at(-1)?.kind).toBe('recovered');
    for (const process of [issuer, ...services])
      expect(process.output()).not.toMatch(/permission denied|42501/);
  });
});
