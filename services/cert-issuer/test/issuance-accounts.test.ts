import { randomBytes } from 'node:crypto';
import { attemptsOf, certificateRow, requestCertificate, startCertIssuer } from '@gatehouse/service-harness';
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);

describe('issuance accounts and staging', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let http01Port: number;
  const pebbles: TestPebble[] = [];
  beforeAll(async () => {
    http01Port = await freePort();
    [database, nats] = await Promise.all([createTestDatabase('accounts'), startNatsServer()]);
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), nats?.stop(), ...pebbles.map((pebble) => pebble.stop())]);
  });

  async function settle(id: string) {
    return waitFor(
      'certificate settled',
      async () => {
        const row = await certificateRow(database.db, id);
        return (row.status === 'valid' || row.status === 'failed') && row;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  }

  it('accounts - External Account Binding from config registers with a CA that requires it', async () => {
    const hmacKey = randomBytes(32).toString('base64url');
    const pebble = await startPebble({
      httpPort: http01Port,
      externalAccountBindingRequired: true,
      externalAccountMACKeys: { 'kid-1': hmacKey },
    });
    pebbles.push(pebble);

    const without = await startCertIssuer({ database, nats, pebbles: [pebble], http01Port });
    try {
      const refused = await settle(
        await requestCertificate(database.db, [`noeab-${suffix}.test`], { challenge: 'http-01' }),
      );
      expect(refused).toMatchObject({ status: 'failed', last_error_kind: 'policy' });
      expect(refused.last_error_message).toMatch(/externalAccountBinding|external account/i);
    } finally {
      await without.stop();
    }

    const withEab = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: { ACME_EAB: JSON.stringify({ [pebble.directoryUrl]: { keyId: 'kid-1', hmacKey } }) },
    });
    try {
      const issued = await settle(
        await requestCertificate(database.db, [`eab-${suffix}.test`], { challenge: 'http-01' }),
      );
      expect(issued.status).toBe('valid');
      const account = await database.db
        .selectFrom('acme_accounts')
        .selectAll()
        .where('directory_url', '=', pebble.directoryUrl)
        .executeTakeFirstOrThrow();
      expect(account.eab_key_id).toBe('kid-1');
      expect(account.key_encrypted).toMatch(/^gh1\./);
      expect(account.key_encrypted).not.toContain('PRIVATE KEY');
    } finally {
      await withEab.stop();
    }
  });

  it('accounts - after a failure, a staging CA proves the fix before production is used again', async () => {
    const [production, staging] = await Promise.all([
      startPebble({ httpPort: http01Port, nonceRejectPercent: 0 }),
      startPebble({ httpPort: http01Port, nonceRejectPercent: 0 }),
    ]);
    pebbles.push(production, staging);
    await production.kill();
    const issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [production],
      http01Port,
      env: { ACME_STAGING_DIRECTORY_URL: staging.directoryUrl, ISSUANCE_RETRY_LADDER: '3s' },
    });
    try {
      const id = await requestCertificate(database.db, [`staged-${suffix}.test`], { challenge: 'http-01' });
      await waitFor(
        'a failed round',
        async () => (await certificateRow(database.db, id)).last_error_kind === 'connection',
        {
          timeoutMs: 30_000,
        },
      );
      await production.start();
      const row = await waitFor(
        'issued by production after the staging trial',
        async () => {
          const current = await certificateRow(database.db, id);
          return current.status === 'valid' && current;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      expect(row).toMatchObject({ status: 'valid', issuer: production.directoryUrl });
      const attempts = await attemptsOf(database.db, id);
      const trial = attempts.findIndex((attempt) => attempt.outcome === 'staging-success');
      const success = attempts.findIndex((attempt) => attempt.outcome === 'success');
      expect(attempts[trial]?.directory_url).toBe(staging.directoryUrl);
      expect(trial).toBeGreaterThan(0);
      expect(success).toBeGreaterThan(trial);
      expect(attempts[0]).toMatchObject({ directory_url: production.directoryUrl, error_kind: 'connection' });
    } finally {
      await issuer.stop();
    }
  });
});
