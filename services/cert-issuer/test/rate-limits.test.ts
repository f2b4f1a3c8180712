import { createDb, type Db } from '@gatehouse/db';
import {
  check,
  checkOrderAllowed,
  isUnlimited,
  type LimitRequest,
  limitsFor,
  parseRateLimitOverrides,
  prune,
  RateLimitConfigError,
  rateLimitScopes,
  record,
  release,
  reserve,
  reserveSlots,
} from '@gatehouse/rate-limits';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const hour = 3_600_000;
const directory = 'https://ca.example/directory';
let counter = 0;
/** A scope no other test shares, so tests read only their own events. */
function uniqueAccount(): string {
  counter += 1;
  return `https://ca.example/acct/${process.pid}-${counter}`;
}

async function countEvents(db: Db, scope: string): Promise<number> {
  const row = await db
    .selectFrom('rate_limit_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('scope', '=', scope)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('rate limits', () => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase('rate_limits');
    db = database.db;
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('rate limits - a budget of 5 allows 5 reservations and refuses the 6th until the first leaves the window', async () => {
    const scope = uniqueAccount();
    const request: LimitRequest = {
      limit: 'new-orders-per-account',
      rule: { max: 5, windowMs: 3 * hour },
      scope,
    };
    const first = new Date('2026-03-01T12:00:00.000Z');
    for (let i = 0; i < 5; i += 1) {
      const outcome = await reserve(db, [request], new Date(first.getTime() + i * 60_000));
      expect(outcome).toMatchObject({ allowed: true });
    }
    const sixthAt = new Date(first.getTime() + 10 * 60_000);
    const sixth = await reserve(db, [request], sixthAt);
    expect(sixth).toEqual({
      allowed: false,
      limit: 'new-orders-per-account',
      scope,
      retryAt: new Date('2026-03-01T15:00:00.000Z'),
      reason: `new orders per account (${scope}): 5 of 5 used in the last 3 h; next slot at 2026-03-01T15:00:00.000Z`,
    });
    expect(await countEvents(db, scope)).toBe(5);

    // A millisecond early is still refused; at retryAt exactly the slot is free.
    expect((await reserve(db, [request], new Date(first.getTime() + 3 * hour - 1))).allowed).toBe(false);
    expect(await reserve(db, [request], new Date(first.getTime() + 3 * hour))).toMatchObject({
      allowed: true,
    });
    expect(await countEvents(db, scope)).toBe(6);
  });

  it('rate limits - an order that never reached the CA hands back every slot; one that issued nothing, its certificate slots', async () => {
    const account = uniqueAccount();
    const requests: LimitRequest[] = [
      { limit: 'new-orders-per-account', rule: { max: 10, windowMs: 3 * hour }, scope: account },
      { limit: 'duplicate-certificates', rule: { max: 1, windowMs: 168 * hour }, scope: `dup|${account}` },
    ];
    const first = await reserve(db, requests);
    if (!first.allowed) throw new Error('the first reservation must be granted');
    expect(first.events.map((event) => event.limit).sort()).toEqual([
      'duplicate-certificates',
      'new-orders-per-account',
    ]);
    // The CA was down: nothing was spent there.
    await release(db, first, ['new-orders-per-account', 'duplicate-certificates']);
    expect(await countEvents(db, account)).toBe(0);
    // The CA took the order but issued nothing: the order counts, the duplicate slot comes back.
    const second = await reserve(db, requests);
    if (!second.allowed) throw new Error('the budget was handed back, so this must be granted');
    await release(db, second, ['duplicate-certificates']);
    expect(await countEvents(db, account)).toBe(1);
    expect(await countEvents(db, `dup|${account}`)).toBe(0);
    expect((await reserve(db, requests)).allowed).toBe(true);
    expect((await reserve(db, requests)).allowed).toBe(false); // one duplicate per week, now spent
  });

  it('rate limits - 20 concurrent reservations on separate connections spend a budget of 5 exactly', async () => {
    const pool = createDb({ connectionString: database.url, maxConnections: 20 });
    try {
      const scope = uniqueAccount();
      const request: LimitRequest = {
        limit: 'new-orders-per-account',
        rule: { max: 5, windowMs: hour },
        scope,
      };
      // Open every connection first, so the reservations really do run side by side.
      await Promise.all(
        Array.from({ length: 20 }, () => pool.selectNoFrom((eb) => eb.val(1).as('x')).execute()),
      );
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => reserve(pool, [request])));
      expect(outcomes.filter((outcome) => outcome.allowed)).toHaveLength(5);
      expect(outcomes.filter((outcome) => !outcome.allowed)).toHaveLength(15);
      expect(await countEvents(db, scope)).toBe(5);
    } finally {
      await pool.destroy();
    }
  });

  it('rate limits - concurrent reservations over overlapping budgets in different orders neither deadlock nor overspend', async () => {
    const pool = createDb({ connectionString: database.url, maxConnections: 20 });
    try {
      const account = uniqueAccount();
      const names = rateLimitScopes.nameSet(directory, `${account}-names`);
      const orders: LimitRequest = {
        limit: 'new-orders-per-account',
        rule: { max: 7, windowMs: hour },
        scope: account,
      };
      const duplicates: LimitRequest = {
        limit: 'duplicate-certificates',
        rule: { max: 4, windowMs: hour },
        scope: names,
      };
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          reserve(pool, i % 2 === 0 ? [orders, duplicates] : [duplicates, orders]),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.allowed)).toHaveLength(4);
      expect(await countEvents(db, names)).toBe(4);
      expect(await countEvents(db, account)).toBe(4);
    } finally {
      await pool.destroy();
    }
  });

  it('rate limits - a reservation with one spent budget is refused whole and records nothing', async () => {
    const account = uniqueAccount();
    const domain = rateLimitScopes.registeredDomain(directory, `${account.replace(/\W/g, '')}.example`);
    const names = rateLimitScopes.nameSet(directory, `www.${domain}`);
    const now = new Date('2026-03-02T08:00:00.000Z');
    const requests: LimitRequest[] = [
      { limit: 'new-orders-per-account', rule: { max: 300, windowMs: 3 * hour }, scope: account },
      { limit: 'certificates-per-registered-domain', rule: { max: 50, windowMs: 168 * hour }, scope: domain },
      { limit: 'duplicate-certificates', rule: { max: 1, windowMs: 168 * hour }, scope: names },
    ];
    expect(await reserve(db, requests, now)).toMatchObject({ allowed: true });

    const later = new Date(now.getTime() + hour);
    const refused = await reserve(db, requests, later);
    expect(refused).toMatchObject({
      allowed: false,
      limit: 'duplicate-certificates',
      scope: names,
      retryAt: new Date(now.getTime() + 168 * hour),
    });
    if (refused.allowed) throw new Error('expected a refusal');
    expect(refused.reason).toContain('duplicate certificates (same name set)');
    expect(refused.reason).toContain('1 of 1 used in the last 7 d');
    expect(await countEvents(db, account)).toBe(1);
    expect(await countEvents(db, domain)).toBe(1);
    expect(await countEvents(db, names)).toBe(1);
  });

  it('rate limits - reserve inside a rolled-back transaction leaves no reservation behind', async () => {
    const scope = uniqueAccount();
    const request: LimitRequest = {
      limit: 'requests-per-account',
      rule: { max: 20, windowMs: 1_000 },
      scope,
    };
    await expect(
      db.transaction().execute(async (trx) => {
        expect(await reserve(trx, [request])).toMatchObject({ allowed: true });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await countEvents(db, scope)).toBe(0);
  });

  it('rate limits - failed authorizations are checked without recording and refused once recorded', async () => {
    const scope = rateLimitScopes.nameForAccount('app.test', uniqueAccount());
    const request: LimitRequest = {
      limit: 'failed-authorizations-per-name',
      rule: { max: 2, windowMs: hour },
      scope,
    };
    const now = new Date('2026-03-03T10:00:00.000Z');
    expect(await check(db, [request], now)).toMatchObject({ allowed: true });
    expect(await check(db, [request], now)).toMatchObject({ allowed: true });
    expect(await countEvents(db, scope)).toBe(0);

    await record(db, 'failed-authorizations-per-name', scope, new Date(now.getTime() - 30 * 60_000));
    await record(db, 'failed-authorizations-per-name', scope, new Date(now.getTime() - 10 * 60_000));
    expect(await check(db, [request], now)).toMatchObject({
      allowed: false,
      limit: 'failed-authorizations-per-name',
      retryAt: new Date(now.getTime() + 30 * 60_000),
    });
  });

  it('rate limits - reserveSlots grants a batch up to what is free, then refuses until the window moves', async () => {
    const scope = uniqueAccount();
    const request: LimitRequest = {
      limit: 'requests-per-account',
      rule: { max: 20, windowMs: 1_000 },
      scope,
    };
    const now = new Date('2026-03-04T10:00:00.000Z');
    expect(await reserveSlots(db, request, 16, now)).toEqual({ allowed: true, granted: 16 });
    expect(await reserveSlots(db, request, 16, now)).toEqual({ allowed: true, granted: 4 });
    expect(await reserveSlots(db, request, 16, now)).toMatchObject({
      allowed: false,
      limit: 'requests-per-account',
      retryAt: new Date(now.getTime() + 1_000),
    });
    expect(await countEvents(db, scope)).toBe(20);
    const later = new Date(now.getTime() + 1_000);
    expect(await reserveSlots(db, request, 5, later)).toEqual({ allowed: true, granted: 5 });
    await expect(reserveSlots(db, request, 0, later)).rejects.toThrow('wanted must be >= 1');
  });

  it('rate limits - checkOrderAllowed says when and why an order is refused, and records nothing', async () => {
    const directoryUrl = `https://ca-${process.pid}-${Date.now()}.example/directory`;
    const accountUrl = uniqueAccount();
    await db
      .insertInto('acme_accounts')
      .values({
        id: crypto.randomUUID(),
        directory_url: directoryUrl,
        email: 'ops@example.test',
        account_url: accountUrl,
        key_encrypted: 'not read here',
      })
      .execute();
    const overrides = parseRateLimitOverrides(
      JSON.stringify({ [directoryUrl]: { 'duplicate-certificates': { max: 2, windowSeconds: 3600 } } }),
    );
    const names = ['www.shop.example.com', 'shop.example.com'];
    const now = new Date('2026-03-05T10:00:00.000Z');
    const ask = () => checkOrderAllowed(db, { directoryUrl, names, overrides }, now);

    expect(await ask()).toMatchObject({ allowed: true });
    const nameSet = rateLimitScopes.nameSet(directoryUrl, 'shop.example.com,www.shop.example.com');
    await record(db, 'duplicate-certificates', nameSet, new Date(now.getTime() - 30 * 60_000));
    expect(await ask()).toMatchObject({ allowed: true });
    await record(db, 'duplicate-certificates', nameSet, new Date(now.getTime() - 10 * 60_000));
    const refused = await ask();
    expect(refused).toMatchObject({
      allowed: false,
      limit: 'duplicate-certificates',
      retryAt: new Date(now.getTime() + 30 * 60_000),
    });
    if (refused.allowed) throw new Error('expected a refusal');
    expect(refused.reason).toContain('2 of 2 used in the last 1 h');
    expect(await countEvents(db, nameSet)).toBe(2);

    // Per-account budgets are found through the stored account: failed authorizations for a name count.
    const otherNames = ['api.example.org'];
    const failedScope = rateLimitScopes.nameForAccount('api.example.org', accountUrl);
    for (let i = 0; i < 5; i += 1) await record(db, 'failed-authorizations-per-name', failedScope, now);
    expect(await checkOrderAllowed(db, { directoryUrl, names: otherNames, overrides }, now)).toMatchObject({
      allowed: false,
      limit: 'failed-authorizations-per-name',
    });
    expect(
      await checkOrderAllowed(
        db,
        { directoryUrl, names: otherNames, overrides, email: 'nobody@example.test' },
        now,
      ),
    ).toEqual({ allowed: true });
  });

  it('rate limits - a check-only budget in a reservation refuses it when full and is never spent', async () => {
    const account = uniqueAccount();
    const failedScope = rateLimitScopes.nameForAccount('checked.example.com', account);
    const order: LimitRequest = {
      limit: 'new-orders-per-account',
      rule: { max: 10, windowMs: hour },
      scope: account,
    };
    const failedAuthz: LimitRequest = {
      limit: 'failed-authorizations-per-name',
      rule: { max: 2, windowMs: hour },
      scope: failedScope,
      checkOnly: true,
    };
    const now = new Date('2026-04-01T12:00:00.000Z');
    const allowed = await reserve(db, [order, failedAuthz], now);
    expect(allowed).toMatchObject({ allowed: true, events: [{ limit: 'new-orders-per-account' }] });
    expect(await countEvents(db, failedScope)).toBe(0);
    expect(await countEvents(db, account)).toBe(1);

    await record(db, 'failed-authorizations-per-name', failedScope, new Date(now.getTime() - 20 * 60_000));
    await record(db, 'failed-authorizations-per-name', failedScope, new Date(now.getTime() - 10 * 60_000));
    const refused = await reserve(db, [order, failedAuthz], now);
    expect(refused).toMatchObject({
      allowed: false,
      limit: 'failed-authorizations-per-name',
      scope: failedScope,
      retryAt: new Date(now.getTime() + 40 * 60_000),
    });
    // Refused as a whole: the order budget was not spent either.
    expect(await countEvents(db, account)).toBe(1);
    expect(await countEvents(db, failedScope)).toBe(2);

    // The same budget both spent and check-only in one call is spent once.
    const spentScope = uniqueAccount();
    const spent: LimitRequest = {
      limit: 'new-orders-per-account',
      rule: { max: 5, windowMs: hour },
      scope: spentScope,
    };
    expect(await reserve(db, [{ ...spent, checkOnly: true }, spent], now)).toMatchObject({ allowed: true });
    expect(await countEvents(db, spentScope)).toBe(1);
  });

  it('rate limits - prune deletes only events older than the cutoff', async () => {
    const scope = uniqueAccount();
    const cutoff = new Date('2026-02-01T00:00:00.000Z');
    await record(db, 'new-orders-per-account', scope, new Date(cutoff.getTime() - 1));
    await record(db, 'new-orders-per-account', scope, cutoff);
    const deleted = await prune(db, cutoff);
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(await countEvents(db, scope)).toBe(1);
  });
});

describe('rate limit configuration', () => {
  it('rate limit configuration - defaults < "*" < exact directory URL, field by field', () => {
    const overrides = parseRateLimitOverrides(
      JSON.stringify({
        '*': {
          'new-orders-per-account': { max: 100 },
          'duplicate-certificates': { max: 2, windowSeconds: 3600 },
        },
        [directory]: { 'new-orders-per-account': { max: 5, windowSeconds: 10800 } },
      }),
    );
    const forDirectory = limitsFor(directory, overrides);
    expect(forDirectory['new-orders-per-account']).toEqual({ max: 5, windowMs: 3 * hour });
    expect(forDirectory['duplicate-certificates']).toEqual({ max: 2, windowMs: hour });
    expect(forDirectory['certificates-per-registered-domain']).toEqual({ max: 50, windowMs: 168 * hour });

    const elsewhere = limitsFor('https://other.example/directory', overrides);
    expect(elsewhere['new-orders-per-account']).toEqual({ max: 100, windowMs: 3 * hour });
    expect(limitsFor(directory)['new-orders-per-account']).toEqual({ max: 300, windowMs: 3 * hour });
  });

  it('rate limit configuration - "unlimited" turns a limit off for that CA: nothing counted, nothing refused', async () => {
    const overrides = parseRateLimitOverrides(
      JSON.stringify({
        [directory]: { 'requests-per-account': 'unlimited', 'new-orders-per-account': 'unlimited' },
      }),
    );
    const rules = limitsFor(directory, overrides);
    expect(isUnlimited(rules['requests-per-account'])).toBe(true);
    expect(rules['requests-per-account'].windowMs).toBe(1_000);
    expect(isUnlimited(limitsFor('https://other.example/directory', overrides)['requests-per-account'])).toBe(
      false,
    );
    expect(() => parseRateLimitOverrides('{"*": {"requests-per-acount": "unlimited"}}')).toThrow(
      /"requests-per-acount".*known limits/,
    );
    const database = await createTestDatabase('rate_limits_unlimited');
    try {
      const scope = uniqueAccount();
      const request = {
        limit: 'new-orders-per-account' as const,
        rule: rules['new-orders-per-account'],
        scope,
      };
      for (let i = 0; i < 3; i += 1)
        expect(await reserve(database.db, [request])).toEqual({ allowed: true, events: [] });
      expect(await reserveSlots(database.db, { ...request, limit: 'requests-per-account' }, 16)).toEqual({
        allowed: true,
        granted: 16,
      });
      expect(await countEvents(database.db, scope)).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it('rate limit configuration - bad overrides are refused with a message naming the problem', () => {
    const problem = (json: string) => {
      try {
        parseRateLimitOverrides(json);
      } catch (error) {
        expect(error).toBeInstanceOf(RateLimitConfigError);
        return (error as Error).message;
      }
      throw new Error('expected the overrides to be refused');
    };
    expect(problem('{"*": ')).toMatch(/^ACME_RATE_LIMITS is not valid JSON: /);
    expect(problem('[]')).toMatch(
      /ACME_RATE_LIMITS is invalid: .*expected an object keyed by ACME directory URL/,
    );
    expect(problem('{"not a url": {}}')).toContain('expected "*" or an ACME directory URL');
    expect(problem('{"*": {"new-orders": {"max": 5}}}')).toMatch(
      /at "\*": .*"new-orders".*known limits: new-orders-per-account/,
    );
    expect(problem('{"*": {"new-orders-per-account": {"max": -1}}}')).toContain(
      'at "*" → "new-orders-per-account" → "max": expected 0 or more',
    );
    expect(problem('{"*": {"new-orders-per-account": {"max": "5"}}}')).toContain('"max": expected a number');
    expect(problem('{"*": {"new-orders-per-account": {"windowSeconds": 0}}}')).toContain(
      '"windowSeconds": expected more than 0',
    );
    expect(problem('{"*": {"new-orders-per-account": {"max": 5, "window": 60}}}')).toContain(
      'at "*" → "new-orders-per-account": Unrecognized key: "window" (known fields: max, windowSeconds)',
    );
    expect(problem('{"*": 5}')).toContain('at "*": expected an object keyed by limit name');
    expect(problem('{"*": {"new-orders-per-account": 5}}')).toContain(
      'expected {"max": <count>, "windowSeconds": <seconds>}',
    );
  });
});
