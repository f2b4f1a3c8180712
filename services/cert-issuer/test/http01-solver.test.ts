import { randomBytes } from 'node:crypto';
import { createDb, type Db } from '@gatehouse/db';
import { createTestDatabase, type TestDatabase, waitFor } from '@gatehouse/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttp01Solver, type Http01SolverOptions } from '../src/challenges/http01-solver.ts';

/**
 * The HTTP-01 solver's rows in Postgres: cleanups' deletes coalesced into one statement (by window, by count,
 * on flush), a re-presented token kept, a failed delete retried. Statements are counted from the solver's own
 * connection pool (Kysely's query log), so each count is exact.
 */
describe('http-01 solver', () => {
  let database: TestDatabase;
  const pools: Db[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('http01_solver');
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.destroy()));
    await database?.drop();
  });

  /** A solver on a pool of its own; `deletes()` is how many token deletes it has sent so far. */
  function solverWith(options: Http01SolverOptions, connectionString = database.url) {
    const statements: string[] = [];
    const db = createDb({
      connectionString,
      onQuery: (event) => statements.push(event.query.sql),
    });
    pools.push(db);
    return {
      solver: createHttp01Solver(db, options),
      deletes: () => statements.filter((text) => text.startsWith('delete from "http01_tokens"')).length,
    };
  }

  const newToken = () => randomBytes(32).toString('base64url');

  async function rowsOf(tokens: string[]) {
    return database.db
      .selectFrom('http01_tokens')
      .select(['token', 'expires_at'])
      .where('token', 'in', tokens)
      .execute();
  }

  async function presentAll(solver: ReturnType<typeof solverWith>['solver'], tokens: string[]) {
    for (const token of tokens) await solver.present('solver.test', token, `${token}.thumb`);
  }

  it('http-01 solver - a burst of cleanups is one delete statement, sent once the window has passed', async () => {
    const { solver, deletes } = solverWith({ deletes: { windowMs: 150 } });
    const tokens = Array.from({ length: 6 }, newToken);
    await presentAll(solver, tokens);
    for (const token of tokens) await solver.cleanup('solver.test', token, `${token}.thumb`);
    await waitFor('the rows deleted', async () => (await rowsOf(tokens)).length === 0);
    expect(deletes()).toBe(1);
  });

  it('http-01 solver - a full batch goes out at once, without waiting for the window', async () => {
    const { solver, deletes } = solverWith({ deletes: { windowMs: 600_000, maxBatch: 3 } });
    const tokens = Array.from({ length: 4 }, newToken);
    await presentAll(solver, tokens);
    for (const token of tokens) await solver.cleanup('solver.test', token, `${token}.thumb`);
    // Three of four are a full batch, long before the window ends; the fourth waits for it (or a flush).
    await waitFor('a full batch deleted', async () => (await rowsOf(tokens)).length === 1);
    expect((await rowsOf(tokens)).map((row) => row.token)).toEqual([tokens[3]]);
    expect(deletes()).toBe(1);
    await solver.flush();
    expect(await rowsOf(tokens)).toEqual([]);
    expect(deletes()).toBe(2);
  });

  it('http-01 solver - flush (cert-issuer stop) sends what is queued in one statement', async () => {
    const { solver, deletes } = solverWith({ deletes: { windowMs: 600_000 } });
    const tokens = Array.from({ length: 3 }, newToken);
    await presentAll(solver, tokens);
    for (const token of tokens) await solver.cleanup('solver.test', token, `${token}.thumb`);
    expect(await rowsOf(tokens)).toHaveLength(3);
    await solver.flush();
    expect(await rowsOf(tokens)).toEqual([]);
    expect(deletes()).toBe(1);
    // Nothing queued: a flush sends nothing.
    await solver.flush();
    expect(deletes()).toBe(1);
  });

  it('http-01 solver - a token presented again before its queued delete went out keeps its row, here or on another replica', async () => {
    const here = solverWith({ deletes: { windowMs: 600_000 } });
    const elsewhere = solverWith({ deletes: { windowMs: 600_000 } });
    const [resumedHere, resumedElsewhere, done] = [newToken(), newToken(), newToken()];
    await presentAll(here.solver, [resumedHere, resumedElsewhere, done]);
    for (const token of [resumedHere, resumedElsewhere, done])
      await here.solver.cleanup('solver.test', token, `${token}.thumb`);
    const [before] = await rowsOf([resumedElsewhere]);

    // A resumed order re-presents the same challenge token: in this process, and in another replica's.
    await here.solver.present('solver.test', resumedHere, `${resumedHere}.thumb`);
    await elsewhere.solver.present('solver.test', resumedElsewhere, `${resumedElsewhere}.thumb`);
    await here.solver.flush();

    expect(here.deletes()).toBe(1);
    const kept = await rowsOf([resumedHere, resumedElsewhere, done]);
    expect(kept.map((row) => row.token).sort()).toEqual([resumedHere, resumedElsewhere].sort());
    // The other replica's presentation is a later expiry: the row the queued delete named is gone.
    expect(kept.find((row) => row.token === resumedElsewhere)!.expires_at.getTime()).toBeGreaterThan(
      before!.expires_at.getTime(),
    );

    // Their own cleanups remove them.
    await here.solver.cleanup('solver.test', resumedHere, `${resumedHere}.thumb`);
    await elsewhere.solver.cleanup('solver.test', resumedElsewhere, `${resumedElsewhere}.thumb`);
    await Promise.all([here.solver.flush(), elsewhere.solver.flush()]);
    expect(await rowsOf([resumedHere, resumedElsewhere])).toEqual([]);
  });

  it('http-01 solver - a failed delete never reaches the order and is retried at the next flush', async () => {
    // The solver's connections give up on a lock after 200 ms; the test holds the table's lock longer.
    const impatient = new URL(database.url);
    impatient.searchParams.set('options', '-c lock_timeout=200');
    const { solver, deletes } = solverWith({ deletes: { windowMs: 600_000 } }, impatient.toString());
    const tokens = [newToken(), newToken()];
    await presentAll(solver, tokens);
    await database.db.transaction().execute(async (trx) => {
      await sql`lock table http01_tokens in access exclusive mode`.execute(trx);
      for (const token of tokens)
        await expect(solver.cleanup('solver.test', token, 'x')).resolves.toBeUndefined();
      await expect(solver.flush()).resolves.toBeUndefined();
    });
    expect(deletes()).toBe(1);
    expect(await rowsOf(tokens)).toHaveLength(2);

    await solver.flush();
    expect(deletes()).toBe(2);
    expect(await rowsOf(tokens)).toEqual([]);
  });

  it('http-01 solver - a failed present reaches the order, and its possible row is deleted like a cleanup', async () => {
    const impatient = new URL(database.url);
    impatient.searchParams.set('options', '-c lock_timeout=200');
    const { solver, deletes } = solverWith({ deletes: { windowMs: 600_000 } }, impatient.toString());
    const token = newToken();
    await database.db.transaction().execute(async (trx) => {
      await sql`lock table http01_tokens in access exclusive mode`.execute(trx);
      await expect(solver.present('solver.test', token, `${token}.thumb`)).rejects.toThrow(/lock timeout/);
    });
    // A cleanup after it (the issuer sends none) has nothing more to queue: one delete, for the failed insert.
    await solver.cleanup('solver.test', token, `${token}.thumb`);
    await solver.flush();
    expect(deletes()).toBe(1);
    expect(await rowsOf([token])).toEqual([]);
  });
});
