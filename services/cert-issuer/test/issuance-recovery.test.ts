import { createSecretBox } from '@gatehouse/pki';
import {
  attemptsOf,
  certificateRow,
  masterKey,
  requestCertificate,
  startCertIssuer,
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
import { createHttp01Probes, http01ProbeKeyPurpose } from '../src/challenges/http01-probe.ts';
import { createHttp01Responder } from '../src/challenges/http01-responder.ts';

const suffix = Math.random().toString(36).slice(2, 8);

describe('issuance recovery', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let primary: TestPebble;
  let secondary: TestPebble;
  let http01Port: number;
  beforeAll(async () => {
    http01Port = await freePort();
    [database, nats, primary, secondary] = await Promise.all([
      createTestDatabase('recovery'),
      startNatsServer(),
      // Real validation delays (0–15 s per challenge) keep orders open long enough to crash mid-way.
      startPebble({ httpPort: http01Port, env: { PEBBLE_VA_NOSLEEP: '0' }, nonceRejectPercent: 0 }),
      startPebble({ httpPort: http01Port, nonceRejectPercent: 0 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), nats?.stop(), primary?.stop(), secondary?.stop()]);
  });

  it('recovery - cert-issuer killed (SIGKILL) mid-order: after restart exactly one certificate for that name set', async () => {
    // Pebble's HTTP-01 requests reach a responder that stays up, as Traefik would route them to any live
    // replica; tokens are in Postgres, so validation goes on while the killed replica is down. Built like a
    // replica's: the same master key, so it answers the preflight's probes too.
    const probes = createHttp01Probes(
      createSecretBox(Buffer.from(masterKey, 'base64')).deriveKey(http01ProbeKeyPurpose),
    );
    const responder = createHttp01Responder(database.db, { probes }).listen(http01Port, '127.0.0.1');
    const first = await startCertIssuer({ database, nats, pebbles: [primary] });
    const id = await requestCertificate(database.db, [`crash-${suffix}.test`, `www.crash-${suffix}.test`], {
      challenge: 'http-01',
    });
    const order = await waitFor(
      'the order placed',
      async () =>
        database.db.selectFrom('orders').selectAll().where('certificate_id', '=', id).executeTakeFirst(),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    expect((await certificateRow(database.db, id)).status).toBe('pending');
    await first.stop('SIGKILL');

    const second = await startCertIssuer({ database, nats, pebbles: [primary] });
    try {
      const row = await waitFor(
        'the certificate after restart',
        async () => {
          const current = await certificateRow(database.db, id);
          return current.status === 'valid' && current;
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      expect(row.chain_pem).toContain('BEGIN CERTIFICATE');
      const orders = await database.db
        .selectFrom('orders')
        .selectAll()
        .where('certificate_id', '=', id)
        .execute();
      // The restarted replica resumed the order the killed one placed: one order, one certificate.
      expect(orders).toHaveLength(1);
      expect(orders[0]).toMatchObject({ id: order.id, order_url: order.order_url, status: 'valid' });
      const successes = (await attemptsOf(database.db, id)).filter(
        (attempt) => attempt.outcome === 'success',
      );
      expect(successes).toHaveLength(1);
    } finally {
      await second.stop();
      responder.close();
    }
  });

  it('recovery - Pebble down: attempts recorded as connection, retried, success when it returns', async () => {
    const issuer = await startCertIssuer({ database, nats, pebbles: [secondary], http01Port });
    try {
      // Register the account while the CA is up, then take it down.
      const warmup = await requestCertificate(database.db, [`warm-${suffix}.test`], { challenge: 'http-01' });
      await waitFor(
        'warm-up issued',
        async () => (await certificateRow(database.db, warmup)).status === 'valid',
        {
          timeoutMs: 60_000,
        },
      );
      await secondary.kill();
      const id = await requestCertificate(database.db, [`down-${suffix}.test`], { challenge: 'http-01' });
      await waitFor(
        'two connection failures',
        async () =>
          (await attemptsOf(database.db, id)).filter((attempt) => attempt.error_kind === 'connection')
            .length >= 2,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      // The round ends (status, retry time) a moment after its last attempt is recorded.
      const failed = await waitFor(
        'the round recorded as failed',
        async () => {
          const row = await certificateRow(database.db, id);
          return row.last_error_kind !== null && row;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(failed).toMatchObject({ status: 'failed', last_error_kind: 'connection' });
      expect(failed.next_retry_at).not.toBeNull();
      await secondary.start(); // A fresh Pebble: it has forgotten our account, which must be re-registered.
      const row = await waitFor(
        'issued once Pebble is back',
        async () => {
          const current = await certificateRow(database.db, id);
          return current.status === 'valid' && current;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      expect(row.last_error_kind).toBeNull();
      const kinds = (await attemptsOf(database.db, id)).map(
        (attempt) => attempt.error_kind ?? attempt.outcome,
      );
      expect(kinds[0]).toBe('connection');
      expect(kinds.at(-1)).toBe('success');
    } finally {
      await issuer.stop();
    }
  });

  it('recovery - with a second CA configured, issuance falls over to it', async () => {
    const unreachable = `https://127.0.0.1:${await freePort()}/dir`;
    const issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [secondary],
      http01Port,
      env: { ACME_DIRECTORY_URL: `${unreachable},${secondary.directoryUrl}` },
    });
    try {
      const id = await requestCertificate(database.db, [`fallover-${suffix}.test`], { challenge: 'http-01' });
      const row = await waitFor(
        'issued by the second CA',
        async () => {
          const current = await certificateRow(database.db, id);
          return current.status === 'valid' && current;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(row.issuer).toBe(secondary.directoryUrl);
      const attempts = await attemptsOf(database.db, id);
      expect(
        attempts
          .filter((attempt) => attempt.directory_url === unreachable)
          .map((attempt) => attempt.error_kind),
      ).toEqual(['connection', 'connection']);
      expect(attempts.at(-1)).toMatchObject({ directory_url: secondary.directoryUrl, outcome: 'success' });
    } finally {
      await issuer.stop();
    }
  });
});
