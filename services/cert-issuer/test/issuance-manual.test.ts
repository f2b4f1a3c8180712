import { randomUUID } from 'node:crypto';
import {
  announceRenewalDue,
  attemptsOf,
  type CertIssuerProcess,
  certificateRow,
  requestCertificate,
  startCertIssuer,
  verifyChain,
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);
const name = (label: string) => `${label}-${suffix}.test`;

describe('issuance - manual renewal and fallback', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let issuer: CertIssuerProcess;
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('issuance_manual'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    issuer = await startCertIssuer({ database, nats, pebbles: [pebble], http01Port });
  });
  afterAll(async () => {
    await issuer?.stop();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  /** Waits until the certificate is valid with a serial other than `previousSerial`. */
  async function waitForNewSerial(id: string, previousSerial: string | null) {
    return waitFor(
      `certificate ${id} valid with a new serial`,
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== previousSerial && row;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    ).catch(async (error) => {
      const row = await certificateRow(database.db, id);
      throw new Error(
        `status ${row.status}, serial ${row.serial}, last error ${row.last_error_kind}: ${row.last_error_message}\n${issuer.output().slice(-3000)}`,
        { cause: error },
      );
    });
  }

  it('issuance - a manual request for a valid certificate orders a new one and resets the retry ladder', async () => {
    const id = await requestCertificate(database.db, [name('manual')], { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);

    // A persisted ladder from failed renewals: a deferred job far in the future and a failure count.
    const ladderJobId = randomUUID();
    await database.db
      .insertInto('issuance_jobs')
      .values({
        id: ladderJobId,
        certificate_id: id,
        names_key: first.names_key,
        reason: 'renewal',
        challenge: 'auto',
        key_type: 'ecdsa-p256',
        status: 'deferred',
        attempt: 4,
        next_attempt_at: new Date(Date.now() + 86_400_000),
        deferred_reason: 'retry after validation failure',
      })
      .execute();
    await database.db
      .updateTable('certificates')
      .set({ failure_count: 4, next_retry_at: new Date(Date.now() + 86_400_000) })
      .where('id', '=', id)
      .execute();

    await requestCertificate(database.db, first.names, { certificateId: id, reason: 'manual' });
    const renewed = await waitForNewSerial(id, first.serial);

    expect(renewed.failure_count).toBe(0);
    expect(renewed.next_retry_at).toBeNull();
    expect(verifyChain(renewed.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
    const jobs = await database.db
      .selectFrom('issuance_jobs')
      .select(['id', 'reason', 'status', 'attempt'])
      .where('certificate_id', '=', id)
      .execute();
    expect(jobs.find((job) => job.id === ladderJobId)?.status).toBe('superseded');
    expect(jobs.filter((job) => job.reason === 'manual')).toEqual([
      expect.objectContaining({ status: 'done', attempt: 0 }),
    ]);
    const successes = (await attemptsOf(database.db, id)).filter((a) => a.outcome === 'success');
    expect(successes).toHaveLength(2);
  });

  it('issuance - a renewal of a certificate on its self-signed fallback ends valid with the new chain', async () => {
    const id = await requestCertificate(database.db, [name('fallback')], { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);
    await announceRenewalDue(
      database.db,
      { id, names: first.names },
      {
        reason: 'retry',
        set: {
          status: 'fallback',
          fallback_chain_pem: 'self-signed stand-in (not read by cert-issuer)',
          fallback_activated_at: new Date(),
          failure_count: 7,
        },
      },
    );

    const renewed = await waitForNewSerial(id, first.serial);
    expect(renewed.status).toBe('valid');
    expect(renewed.chain_pem).not.toBe(first.chain_pem);
    expect(renewed.failure_count).toBe(0);
    expect(verifyChain(renewed.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
  });
});
