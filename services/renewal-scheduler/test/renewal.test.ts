import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import type { NewCertificate } from '@gatehouse/db';
import { createSecretBox, createSelfSignedCertificate, keyMatchesCertificate } from '@gatehouse/pki';
import {
  certificateRow,
  masterKey,
  requestCertificate,
  type ServiceProcess,
  startCertIssuer,
  startReadyService,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  waitFor,
} from '@gatehouse/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);

function startScheduler(database: TestDatabase, nats: TestNatsServer): Promise<ServiceProcess> {
  return startReadyService('renewal-scheduler', {
    DATABASE_URL: database.url,
    NATS_URL: nats.url,
    RENEWAL_TICK_SECONDS: '1',
    RENEWAL_BATCH_SIZE: '3',
    GATEHOUSE_MASTER_KEY: masterKey,
  });
}

describe('renewal', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let http01Port: number;
  beforeAll(async () => {
    http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('renewal'),
      startNatsServer(),
      // 40-second certificates: renewal is due when half the lifetime is left (shorter than 10 days).
      startPebble({ httpPort: http01Port, certificateValiditySeconds: 40, nonceRejectPercent: 0 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  it('renewal - several scheduler replicas hand out each due certificate exactly once', async () => {
    const schedulers = await Promise.all([0, 1, 2].map(() => startScheduler(database, nats)));
    const ids: string[] = [];
    // Made due only once all three run, so they compete for the same rows.
    await database.db.transaction().execute(async (trx) => {
      for (let index = 0; index < 300; index++) {
        const id = randomUUID();
        ids.push(id);
        const name = `due${index}-${suffix}.test`;
        await trx
          .insertInto('certificates')
          .values({
            id,
            names: [name],
            names_key: name,
            status: 'valid',
            source: 'acme',
            renew_at: new Date(Date.now() - 1_000),
            renew_reason: 'lifetime',
          })
          .execute();
      }
    });
    try {
      await waitFor(
        'every due certificate handed out',
        async () => {
          const { rows } = await sql<{ n: string }>`
            select count(*) as n from certificates where status = 'renewing'`.execute(database.db);
          return Number(rows[0]?.n) === ids.length;
        },
        { timeoutMs: 60_000 },
      );
      const { rows } = await sql<{ subject: string; n: string }>`
        select subject, count(*) as n from outbox where type = 'certs.renewal-due' group by subject`.execute(
        database.db,
      );
      expect(rows).toHaveLength(ids.length);
      expect(rows.every((row) => Number(row.n) === 1)).toBe(true);
      // Together the replicas handed out each certificate once (how they split it depends on timing).
      // Log lines can trail the commits they report, so wait for them rather than read them at once.
      const handedOut = () =>
        schedulers.reduce(
          (sum, scheduler) => sum + (scheduler.output().match(/"msg":"renewal due"/g) ?? []).length,
          0,
        );
      await waitFor('every hand-out logged', () => handedOut() >= ids.length, { timeoutMs: 10_000 });
      expect(handedOut()).toBe(ids.length);
    } finally {
      await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
      await database.db.deleteFrom('certificates').where('id', 'in', ids).execute();
    }
    // Three scheduler processes start first; the hand-out itself may take the 60 s its wait allows.
  }, 90_000);

  it('renewal - a short-lived certificate is renewed automatically before it expires', async () => {
    const issuer = await startCertIssuer({ database, nats, pebbles: [pebble], http01Port });
    const scheduler = await startScheduler(database, nats);
    try {
      const id = await requestCertificate(database.db, [`short-${suffix}.test`], { challenge: 'http-01' });
      const first = await waitFor(
        'first certificate',
        async () => {
          const row = await certificateRow(database.db, id);
          return row.status === 'valid' && row;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      const lifetime = first.not_after!.getTime() - first.not_before!.getTime();
      // Half the lifetime left (under 10 days), moved earlier by the spread (at most a twentieth of it).
      const byLifetime = first.not_after!.getTime() - lifetime / 2;
      const scheduled = await waitFor(
        'renew_at spread by the scheduler',
        async () => {
          const row = await certificateRow(database.db, id);
          return row.renew_at!.getTime() !== byLifetime || row.serial !== first.serial ? row : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      ).catch(() => first);
      if (scheduled.serial === first.serial) {
        expect(scheduled.renew_at!.getTime()).toBeLessThanOrEqual(byLifetime);
        expect(scheduled.renew_at!.getTime()).toBeGreaterThanOrEqual(byLifetime - lifetime / 20);
      }
      const renewed = await waitFor(
        'a renewed certificate',
        async () => {
          const row = await certificateRow(database.db, id);
          return row.status === 'valid' && row.serial !== first.serial && row;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      const renewedAt = Date.now();
      expect(renewedAt).toBeLessThan(first.not_after!.getTime());
      expect(renewed.not_after!.getTime()).toBeGreaterThan(first.not_after!.getTime());
      expect(renewed.private_key_encrypted).not.toBe(first.private_key_encrypted); // A new key on every renewal.
      const reasons = await sql<{ reason: string }>`
        select envelope->'data'->>'reason' as reason from outbox where type = 'certs.renewal-due' and subject = ${id}`.execute(
        database.db,
      );
      expect(reasons.rows.map((row) => row.reason)).toContain('lifetime');
    } finally {
      await scheduler.stop();
      await issuer.stop();
    }
  });

  it('renewal - a certificate that expired without renewal gets a self-signed fallback for its names, or the operator wildcard', async () => {
    const box = createSecretBox(Buffer.from(masterKey, 'base64'));
    const expiredRow = async (id: string, name: string): Promise<NewCertificate> => {
      const old = await createSelfSignedCertificate({ commonName: name, dnsNames: [name], days: 1 });
      return {
        id,
        names: [name],
        names_key: name,
        status: 'failed',
        source: 'acme',
        chain_pem: old.certPem,
        private_key_encrypted: box.seal(old.keyPem, `certificate:${id}`),
        not_after: new Date(Date.now() - 60_000),
        renew_at: new Date(Date.now() - 3_600_000),
      };
    };
    const plain = randomUUID();
    const underWildcard = randomUUID();
    const wildcard = randomUUID();
    const wildcardPair = await createSelfSignedCertificate({
      commonName: `*.fb-${suffix}.test`,
      dnsNames: [`*.fb-${suffix}.test`],
    });
    await database.db
      .insertInto('certificates')
      .values([
        await expiredRow(plain, `gone-${suffix}.test`),
        await expiredRow(underWildcard, `shop.fb-${suffix}.test`),
        {
          id: wildcard,
          names: [`*.fb-${suffix}.test`],
          names_key: `*.fb-${suffix}.test`,
          status: 'valid',
          source: 'custom',
          chain_pem: wildcardPair.certPem,
          private_key_encrypted: box.seal(wildcardPair.keyPem, `certificate:${wildcard}`),
          not_after: new Date(Date.now() + 30 * 86_400_000),
        },
      ])
      .execute();
    await database.db
      .insertInto('settings')
      .values({ key: 'fallback_certificate_id', value: JSON.stringify(wildcard) })
      .execute();
    const scheduler = await startScheduler(database, nats);
    try {
      const row = await waitFor(
        'the fallback activated',
        async () => {
          const found = await certificateRow(database.db, plain);
          return found.status === 'fallback' && found;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const fallbackCert = new X509Certificate(row.fallback_chain_pem!);
      expect(fallbackCert.subjectAltName).toBe(`DNS:gone-${suffix}.test`);
      expect(new Date(fallbackCert.validTo).getTime()).toBeGreaterThan(Date.now());
      // Sealed with the certificate's own context, as proxy-config opens it, and the pair matches.
      const keyPem = box.openText(row.fallback_key_encrypted!, `certificate:${plain}`);
      expect(createPrivateKey(keyPem).asymmetricKeyType).toBe('ec');
      expect(keyMatchesCertificate(fallbackCert, keyPem)).toBe(true);
      await waitFor(
        'the covered one too',
        async () => (await certificateRow(database.db, underWildcard)).status === 'fallback',
        {
          timeoutMs: 30_000,
        },
      );
      const { rows } = await sql<{ subject: string; fallback: string; reason: string }>`
        select subject, envelope->'data'->>'fallback' as fallback, envelope->'data'->>'reason' as reason
        from outbox where type = 'certs.fallback-activated' and subject in (${plain}, ${underWildcard})`.execute(
        database.db,
      );
      expect(
        Object.fromEntries(rows.map((event) => [event.subject, [event.fallback, event.reason]])),
      ).toEqual({
        [plain]: ['self-signed', 'expired'],
        [underWildcard]: ['custom-wildcard', 'expired'],
      });
      // Once, however many ticks pass.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const { rows: again } = await sql<{ n: string }>`
        select count(*) as n from outbox where type = 'certs.fallback-activated' and subject = ${plain}`.execute(
        database.db,
      );
      expect(Number(again[0]?.n)).toBe(1);
    } finally {
      await scheduler.stop();
      await database.db.deleteFrom('settings').where('key', '=', 'fallback_certificate_id').execute();
    }
  });
});
