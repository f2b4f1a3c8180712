import { randomUUID } from 'node:crypto';
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
import { type ServiceProcess, startReadyService } from '../../../test/service-process.ts';
import { startCertIssuer } from '../../cert-issuer/test/service.ts';
import { certificateRow, requestCertificate } from '../../cert-issuer/test/support.ts';

const suffix = Math.random().toString(36).slice(2, 8);

function startScheduler(database: TestDatabase, nats: TestNatsServer): Promise<ServiceProcess> {
  return startReadyService('renewal-scheduler', {
    DATABASE_URL: database.url,
    NATS_URL: nats.url,
    RENEWAL_TICK_SECONDS: '1',
    RENEWAL_BATCH_SIZE: '3',
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
  });

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
      expect(first.renew_at!.getTime()).toBe(first.not_after!.getTime() - lifetime / 2);
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
});
