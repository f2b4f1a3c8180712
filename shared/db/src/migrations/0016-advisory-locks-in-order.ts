import { type Kysely, sql } from 'kysely';

/**
 * `gatehouse_advisory_xact_lock_all(names)`: takes a transaction-level advisory lock on every name's
 * `hashtext`, each once, in ascending key order, in one round trip. Rate-limit reservations lock one key per
 * budget they spend; taking them in one order everywhere rules out deadlocks between reservations, and a
 * PL/pgSQL loop over a sorted query makes that order certain (one statement per lock from the client cost a
 * round trip each, on the path of every order). Same key space as `pg_advisory_xact_lock(hashtext(name))`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function gatehouse_advisory_xact_lock_all(names text[]) returns void
    language plpgsql volatile as $$
    declare
      lock_key integer;
    begin
      for lock_key in select distinct hashtext(name) from unnest(names) as name order by 1 loop
        perform pg_advisory_xact_lock(lock_key);
      end loop;
    end
    $$`.execute(db);
}
