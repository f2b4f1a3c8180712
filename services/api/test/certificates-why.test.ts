import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, type Json, startApiHarness, token } from './api-harness.ts';

const directory = 'https://ca.why.test/dir';
const account = 'https://ca.why.test/acct/1';

describe('api why no certificate', () => {
  let api: ApiHarness;
  const failing = randomUUID();
  const healthy = randomUUID();
  const now = Date.now();
  beforeAll(async () => {
    api = await startApiHarness('api_why');
    await api.db
      .insertInto('acme_accounts')
      .values({
        id: randomUUID(),
        directory_url: directory,
        email: 'ops@why.test',
        account_url: account,
        key_encrypted: 'x',
      })
      .execute();
    const appId = randomUUID();
    await api.db
      .insertInto('apps')
      .values({ id: appId, name: 'shop', image: 'busybox', port: 8080, revision: 1 })
      .execute();
    await api.db
      .insertInto('certificates')
      .values([
        {
          id: failing,
          names: ['shop.why.test'],
          names_key: 'shop.why.test',
          status: 'failed',
          source: 'acme',
          issuer: directory,
          failure_count: 2,
          next_retry_at: new Date(now + 15 * 60_000),
          last_error_kind: 'preflight',
          last_error_message: 'preflight failed, no order placed: shop.why.test has no A/AAAA record',
          last_error_at: new Date(now - 60_000),
          preflight: JSON.stringify([
            { name: 'shop.why.test', check: 'dns', ok: false, detail: 'shop.why.test has no A/AAAA record' },
            { name: 'shop.why.test', check: 'caa', ok: true, detail: 'no CAA records' },
          ]),
          preflight_at: new Date(now - 60_000),
        },
        {
          id: healthy,
          names: ['ok.other.test'],
          names_key: 'ok.other.test',
          status: 'valid',
          source: 'acme',
          issuer: directory,
        },
      ])
      .execute();
    await api.db.insertInto('app_certificates').values({ app_id: appId, certificate_id: failing }).execute();
    await api.db
      .insertInto('order_attempts')
      .values({
        id: randomUUID(),
        certificate_id: failing,
        directory_url: directory,
        challenge_type: 'http-01',
        outcome: 'failure',
        error_kind: 'validation',
        error_message: 'Invalid response from http://shop.why.test/.well-known/acme-challenge/x: 404',
        problem_type: 'urn:ietf:params:acme:error:unauthorized',
        started_at: new Date(now - 3_600_000),
        finished_at: new Date(now - 3_599_000),
        duration_ms: 1000,
      })
      .execute();
    await api.db
      .insertInto('issuance_jobs')
      .values({
        id: randomUUID(),
        certificate_id: failing,
        names_key: 'shop.why.test',
        reason: 'new',
        challenge: 'auto',
        key_type: 'ecdsa-p256',
        status: 'deferred',
        attempt: 2,
        next_attempt_at: new Date(now + 15 * 60_000),
        deferred_reason: 'retry after preflight failure',
      })
      .execute();
    // The duplicate-certificate budget of the failing name set is spent (5 in 7 days), the registered domain
    // why.test has used 5 of 50, and the account 7 of 300 orders.
    const day = 86_400_000;
    const events = [
      ...Array.from({ length: 5 }, (_, i) => ({
        limit_name: 'duplicate-certificates',
        scope: `${directory}|shop.why.test`,
        occurred_at: new Date(now - (6 - i) * day),
      })),
      ...Array.from({ length: 5 }, () => ({
        limit_name: 'certificates-per-registered-domain',
        scope: `${directory}|why.test`,
        occurred_at: new Date(now - day),
      })),
      ...Array.from({ length: 7 }, () => ({
        limit_name: 'new-orders-per-account',
        scope: account,
        occurred_at: new Date(now - 60_000),
      })),
      // Outside the 3 h window: not counted.
      { limit_name: 'new-orders-per-account', scope: account, occurred_at: new Date(now - 4 * 3_600_000) },
    ];
    await api.db.insertInto('rate_limit_events').values(events).execute();
  });
  afterAll(() => api.close());

  it('api why - a failing certificate shows preflight, the CA problem, retry, rate limit, apps and a plain hint', async () => {
    const response = await api.call('GET', '/v1/certificates/{id}', { params: { id: failing } });
    expect(response.status).toBe(200);
    const body: Json = response.body;
    expect(body.preflight.results).toEqual([
      { name: 'shop.why.test', check: 'dns', ok: false, detail: 'shop.why.test has no A/AAAA record' },
      { name: 'shop.why.test', check: 'caa', ok: true, detail: 'no CAA records' },
    ]);
    expect(body.attempts[0]).toMatchObject({
      problemType: 'urn:ietf:params:acme:error:unauthorized',
      error: { kind: 'validation' },
    });
    expect(body.nextRenewal).toMatchObject({
      reason: 'retry',
      at: new Date(now + 15 * 60_000).toISOString(),
      detail: 'retry ladder after 2 failed rounds (last: preflight)',
    });
    expect(body.failureCount).toBe(2);
    expect(body.job).toMatchObject({
      reason: 'new',
      status: 'deferred',
      rounds: 2,
      nextAttemptAt: new Date(now + 15 * 60_000).toISOString(),
      deferredReason: 'retry after preflight failure',
    });
    expect(body.apps).toEqual(['shop']);
    expect(body.rateLimit.allowed).toBe(false);
    expect(body.rateLimit.reason).toContain('duplicate certificates');
    // The oldest of the 5 events (6 days ago) leaves the 7-day window first.
    expect(body.rateLimit.retryAt).toBe(new Date(now - 6 * 86_400_000 + 7 * 86_400_000).toISOString());
    expect(body.hint.what).toContain("Gatehouse's own checks found a problem");
    expect(body.hint.check).toEqual(expect.arrayContaining(['CAA records must allow this CA']));
  });

  it('api why - a healthy certificate has no hint and a free budget', async () => {
    const response = await api.call('GET', '/v1/certificates/{id}', { params: { id: healthy } });
    expect(response.body).toMatchObject({ hint: null, preflight: null, apps: [], attempts: [], job: null });
    expect(response.body.rateLimit).toEqual({ allowed: true, retryAt: null, reason: null });
  });

  it('api why - the chain is served as PEM once issued; before that, or for an unknown id, 404', async () => {
    const chain = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await api.db.updateTable('certificates').set({ chain_pem: chain }).where('id', '=', healthy).execute();
    const headers = { authorization: `Bearer ${token}` };
    const issued = await fetch(`${api.base}/v1/certificates/${healthy}/chain`, { headers });
    expect(issued.status).toBe(200);
    expect(issued.headers.get('content-type')).toContain('application/pem-certificate-chain');
    expect(await issued.text()).toBe(chain);
    const notIssued = await fetch(`${api.base}/v1/certificates/${failing}/chain`, { headers });
    expect(notIssued.status).toBe(404);
    expect(((await notIssued.json()) as { detail: string }).detail).toContain('has not been issued yet');
    for (const id of [randomUUID(), 'nope']) {
      expect((await fetch(`${api.base}/v1/certificates/${id}/chain`, { headers })).status).toBe(404);
    }
    expect((await fetch(`${api.base}/v1/certificates/${healthy}/chain`)).status).toBe(401);
  });

  it('api rate limits - budgets per account and registered domain: used, max, next free slot', async () => {
    const response = await api.call('GET', '/v1/rate-limits');
    expect(response.status).toBe(200);
    const budgets: Json[] = response.body.budgets;
    expect(budgets.find((b) => b.kind === 'name-set')).toMatchObject({
      subject: 'shop.why.test',
      directoryUrl: directory,
      used: 5,
      max: 5,
      windowSeconds: 7 * 86_400,
      nextSlotAt: new Date(now + 86_400_000).toISOString(),
    });
    expect(budgets.find((b) => b.kind === 'registered-domain')).toMatchObject({
      subject: 'why.test',
      used: 5,
      max: 50,
      nextSlotAt: null,
    });
    expect(budgets.find((b) => b.kind === 'account')).toMatchObject({
      subject: account,
      directoryUrl: directory,
      used: 7,
      max: 300,
      nextSlotAt: null,
    });
    // Fullest first: the spent duplicate budget leads.
    expect(budgets[0].kind).toBe('name-set');
    const accountsOnly = await api.call('GET', '/v1/rate-limits', {
      query: { kind: 'account,registered-domain' },
    });
    expect(accountsOnly.body.budgets.map((b: Json) => b.kind).sort()).toEqual([
      'account',
      'registered-domain',
    ]);
    const bad = await api.call('GET', '/v1/rate-limits', { query: { kind: 'planet' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('kind');
    expect((await api.call('GET', '/v1/rate-limits', { auth: false })).status).toBe(401);
  });
});
