import { X509Certificate } from 'node:crypto';
import { createSecretBox, keyMatchesCertificate, splitCertificateChain } from '@gatehouse/pki';
import {
  announceRenewalDue,
  attemptsOf,
  type CertIssuerProcess,
  certificateRow,
  emittedEvents,
  masterKey,
  requestCertificate,
  startCertIssuer,
  verifyChain,
} from '@gatehouse/service-harness';
import {
  challtestsrv,
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

describe('issuance', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let issuer: CertIssuerProcess;
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('issuance'),
      startNatsServer(),
      // Pebble's default 5% badNonce rejection stays on: a real client must survive it.
      startPebble({ httpPort: http01Port, domainBlocklist: [`blocked-${suffix}.test`] }),
    ]);
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: {
        ACME_RATE_LIMITS: JSON.stringify({
          [pebble.directoryUrl]: { 'new-orders-per-account': { max: 5, windowSeconds: 3600 } },
        }),
      },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  async function waitForStatus(id: string, status: string, timeoutMs = 45_000) {
    return waitFor(
      `certificate ${id} ${status}`,
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === status && row;
      },
      { timeoutMs, intervalMs: 100 },
    ).catch(async (error) => {
      const row = await certificateRow(database.db, id);
      throw new Error(
        `status ${row.status}, last error ${row.last_error_kind}: ${row.last_error_message}\n${issuer.output().slice(-3000)}`,
        {
          cause: error,
        },
      );
    });
  }

  it('issuance - app.test and www.app.test by HTTP-01: chain verifies against Pebble root, key matches, names right', async () => {
    const names = [name('app'), `www.${name('app')}`];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const row = await waitForStatus(id, 'valid');
    expect(verifyChain(row.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
    const leaf = splitCertificateChain(row.chain_pem!)[0]!;
    const keyPem = createSecretBox(Buffer.from(masterKey, 'base64')).openText(
      row.private_key_encrypted!,
      `certificate:${id}`,
    );
    expect(keyMatchesCertificate(leaf, keyPem)).toBe(true);
    expect(leaf.subjectAltName?.split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
    expect(new X509Certificate(leaf.raw).publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(row).toMatchObject({ issuer: pebble.directoryUrl, last_error_kind: null, source: 'acme' });
    expect(row.renew_at!.getTime()).toBeLessThan(row.not_after!.getTime());
    const attempts = await attemptsOf(database.db, id);
    expect(attempts.at(-1)).toMatchObject({ outcome: 'success', challenge_type: 'http-01' });
    const issued = await emittedEvents(database.db, 'certs.issued');
    expect(issued.map((event) => event.data.certificateId)).toContain(id);
    // Tokens are removed when the order ends: their deletes are batched (a 150 ms window), so within a moment.
    await waitFor(
      'the order tokens deleted',
      async () =>
        (
          await database.db
            .selectFrom('http01_tokens')
            .select('token')
            .where('token', 'not like', 'probe%')
            .execute()
        ).length === 0,
      { timeoutMs: 5_000, intervalMs: 50 },
    );
  });

  it('issuance - a certificate no app uses is not renewed: a renewal already due ends without an order, the certificate kept', async () => {
    const names = [name('released')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const issued = await waitForStatus(id, 'valid');
    const attemptsBefore = (await attemptsOf(database.db, id)).length;
    // The app went away (the api released the certificate) after the scheduler had claimed its renewal.
    await announceRenewalDue(
      database.db,
      { id, names },
      {
        reason: 'lifetime',
        set: { status: 'renewing', released_at: new Date(), renew_at: null, ari_next_poll_at: null },
      },
    );
    const job = await waitFor(
      'the renewal job of the released certificate done',
      async () =>
        (await database.db
          .selectFrom('issuance_jobs')
          .select(['status', 'reason'])
          .where('certificate_id', '=', id)
          .where('reason', '=', 'renewal')
          .where('status', '=', 'done')
          .executeTakeFirst()) ?? false,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(job.status).toBe('done');
    const row = await certificateRow(database.db, id);
    expect(row).toMatchObject({
      status: 'valid',
      renew_at: null,
      ari_next_poll_at: null,
      serial: issued.serial,
    });
    expect(await attemptsOf(database.db, id)).toHaveLength(attemptsBefore);
    expect(issuer.output()).toContain('no app uses the certificate, not renewed');

    // An operator's renewal queued before the release still orders; the new certificate stays unscheduled.
    await requestCertificate(database.db, names, {
      certificateId: id,
      reason: 'manual',
      challenge: 'http-01',
    });
    const renewed = await waitFor(
      'the manual renewal stored',
      async () => {
        const current = await certificateRow(database.db, id);
        return current.status === 'valid' && current.serial !== issued.serial && current;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    expect(renewed).toMatchObject({ renew_at: null, ari_next_poll_at: null, released_at: expect.any(Date) });
  });

  it('issuance - *.w.test by DNS-01', async () => {
    const base = name('w');
    const id = await requestCertificate(database.db, [`*.${base}`, base]);
    const row = await waitForStatus(id, 'valid');
    expect(verifyChain(row.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
    expect(splitCertificateChain(row.chain_pem!)[0]!.subjectAltName).toContain(`DNS:*.${base}`);
    const attempts = await attemptsOf(database.db, id);
    expect(attempts.at(-1)).toMatchObject({ outcome: 'success', challenge_type: 'dns-01' });
  });

  it('issuance - a name on the CA blocklist fails as policy, once, without a retry storm', async () => {
    const id = await requestCertificate(database.db, [`blocked-${suffix}.test`]);
    const row = await waitForStatus(id, 'failed');
    expect(row.last_error_kind).toBe('policy');
    expect(row.last_error_message).toMatch(/blocked|policy|forbid/i);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // Longer than the whole retry ladder's first rungs.
    const attempts = await attemptsOf(database.db, id);
    expect(attempts).toHaveLength(1);
    // The CA's problem type is kept with the attempt (the dashboard and `gatehouse status` show it).
    expect(attempts[0]).toMatchObject({
      outcome: 'failure',
      error_kind: 'policy',
      problem_type: 'urn:ietf:params:acme:error:rejectedIdentifier',
    });
    const job = await database.db
      .selectFrom('issuance_jobs')
      .selectAll()
      .where('certificate_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(job.status).toBe('failed');
    const failed = await emittedEvents(database.db, 'certs.issue-failed');
    expect(failed.filter((event) => event.data.certificateId === id)).toHaveLength(1);
  });

  it('issuance - a failed preflight defers the order with the reason and never contacts the CA', async () => {
    const broken = name('nodns');
    await challtestsrv.setServfail(broken);
    try {
      const id = await requestCertificate(database.db, [broken], { challenge: 'http-01' });
      const row = await waitFor(
        'the preflight failure recorded',
        async () => {
          const current = await certificateRow(database.db, id);
          return current.last_error_kind === 'preflight' && current;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(row.status).toBe('failed');
      expect(row.last_error_message).toContain(broken);
      expect(row.next_retry_at).not.toBeNull();
      expect(row.preflight?.find((result) => result.check === 'dns')).toMatchObject({
        name: broken,
        ok: false,
      });
      expect(
        await database.db.selectFrom('orders').selectAll().where('certificate_id', '=', id).execute(),
      ).toEqual([]);
      const used = await database.db
        .selectFrom('rate_limit_events')
        .selectAll()
        .where('scope', 'like', `%${broken}%`)
        .execute();
      expect(used).toEqual([]);
    } finally {
      await challtestsrv.clearServfail(broken);
    }
  });

  it('issuance - names that cannot get a public certificate are refused with the reason, before any order', async () => {
    const id = await requestCertificate(database.db, ['localhost']);
    const row = await waitForStatus(id, 'failed');
    expect(row.last_error_kind).toBe('policy');
    expect(row.last_error_message).toContain('localhost');
    expect(
      await database.db.selectFrom('orders').selectAll().where('certificate_id', '=', id).execute(),
    ).toEqual([]);
  });

  it('issuance - with an order budget of 5 per window, the 6th request waits and says why', async () => {
    // Orders placed by the tests above count against the same account's budget.
    const used = Number(
      (
        await database.db
          .selectFrom('rate_limit_events')
          .where('limit_name', '=', 'new-orders-per-account')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    const ids: string[] = [];
    for (let index = 0; index < 6 - used; index++)
      ids.push(await requestCertificate(database.db, [name(`budget${index}`)]));
    const rows = await waitFor(
      'every request settled',
      async () => {
        const current = await Promise.all(ids.map((id) => certificateRow(database.db, id)));
        const settled = current.filter(
          (row) => row.status === 'valid' || row.last_error_kind === 'rate-limited',
        );
        return settled.length === ids.length && current;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    const waiting = rows.filter((row) => row.status !== 'valid');
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.last_error_message).toMatch(/new orders per account \(.*\): 5 of 5 used/);
    expect(waiting[0]!.next_retry_at!.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
    const job = await database.db
      .selectFrom('issuance_jobs')
      .selectAll()
      .where('certificate_id', '=', waiting[0]!.id)
      .executeTakeFirstOrThrow();
    expect(job).toMatchObject({
      status: 'deferred',
      deferred_reason: expect.stringContaining('new orders per account'),
    });
    // It was never sent to the CA.
    expect(
      await database.db
        .selectFrom('orders')
        .selectAll()
        .where('certificate_id', '=', waiting[0]!.id)
        .execute(),
    ).toEqual([]);
  });
});
