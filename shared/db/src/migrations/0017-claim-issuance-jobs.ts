import { type Kysely, sql } from 'kysely';

/**
 * `gatehouse_claim_issuance_jobs(...)`: cert-issuer's claim of due issuance jobs in one round trip. It was a
 * transaction of 3 + 2 per job statements from the client, on the path of every order. The rule is unchanged:
 * never two live leases for one name set. Candidates (due, no live lease, oldest first) are row-locked with SKIP
 * LOCKED; per candidate whose name set is not claimed yet, the name set's advisory lock is tried
 * (`lock_prefix` + names_key: `lockNames.issuance`), then the claim's UPDATE re-checks that no other job of the name set holds
 * a live lease. A VOLATILE function takes a fresh snapshot per statement, so that re-check, which starts after
 * the lock is held, sees any lease another replica committed before it released the lock (check → lock →
 * check again). Locks last until the calling statement's transaction ends.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function gatehouse_claim_issuance_jobs(
      holder text, max_jobs integer, open_statuses text[], lock_prefix text, now_at timestamptz,
      lease_until timestamptz
    ) returns setof issuance_jobs
    language plpgsql volatile as $$
    declare
      candidate record;
      claimed_name_sets text[] := '{}';
      claimed integer := 0;
      leased issuance_jobs;
    begin
      for candidate in
        select id, names_key from issuance_jobs
        where status = any(open_statuses) and next_attempt_at <= now_at
          and (lease_expires_at is null or lease_expires_at < now_at)
        order by next_attempt_at
        limit max_jobs * 4
        for update skip locked
      loop
        exit when claimed >= max_jobs;
        continue when candidate.names_key = any(claimed_name_sets);
        continue when not pg_try_advisory_xact_lock(hashtext(lock_prefix || candidate.names_key));
        update issuance_jobs as job
        set status = 'running', lease_holder = holder, lease_expires_at = lease_until, updated_at = now_at
        where job.id = candidate.id
          and not exists (
            select 1 from issuance_jobs as other
            where other.names_key = candidate.names_key and other.id <> candidate.id
              and other.lease_expires_at > now_at and other.status = any(open_statuses))
        returning job.* into leased;
        if found then
          claimed := claimed + 1;
          claimed_name_sets := claimed_name_sets || candidate.names_key;
          return next leased;
        end if;
      end loop;
    end
    $$`.execute(db);
}
