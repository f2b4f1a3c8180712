import { type Kysely, sql } from 'kysely';

/**
 * `gatehouse_reserve_rate_limits(...)`: a rate-limit reservation (`reserve` in @gatehouse/rate-limits) in one
 * round trip instead of a transaction of five. Request i is (limit_names[i], scopes[i]) with its window start and
 * maximum. It takes every lock_names[i] (gatehouse_advisory_xact_lock_all: ascending key order, no deadlocks),
 * then counts each window in a fresh snapshot (a VOLATILE function takes one per statement, after the locks are
 * held). Every budget allows (fewer than max events, max > 0): one event row per request whose spends[i] is true
 * is inserted (the others are only checked, like failed authorizations before an order), and a row
 * (request index, event id) per insert is returned. Any budget refuses: nothing is inserted, and a row
 * (request index, null, the window's event times) per refusing budget is returned, so the caller explains the
 * refusal from exactly what was counted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function gatehouse_reserve_rate_limits(
      lock_names text[], limit_names text[], scopes text[], window_starts timestamptz[], maxes integer[],
      spends boolean[], occurred timestamptz
    ) returns table (request_index integer, event_id bigint, refused_events timestamptz[])
    language plpgsql volatile as $$
    declare
      i integer;
      counted timestamptz[];
      refused boolean := false;
    begin
      perform gatehouse_advisory_xact_lock_all(lock_names);
      for i in 1 .. coalesce(array_length(limit_names, 1), 0) loop
        select coalesce(array_agg(e.occurred_at order by e.occurred_at), '{}') into counted
        from rate_limit_events as e
        where e.limit_name = limit_names[i] and e.scope = scopes[i] and e.occurred_at > window_starts[i];
        if maxes[i] <= 0 or coalesce(array_length(counted, 1), 0) >= maxes[i] then
          refused := true;
          request_index := i;
          event_id := null;
          refused_events := counted;
          return next;
        end if;
      end loop;
      if refused then
        return;
      end if;
      return query
        with inserted as (
          insert into rate_limit_events (limit_name, scope, occurred_at)
          select requested.limit_name, requested.scope, occurred
          from unnest(limit_names, scopes, spends) as requested(limit_name, scope, spend)
          where requested.spend
          returning rate_limit_events.id, rate_limit_events.limit_name, rate_limit_events.scope
        )
        select requested.position::integer, inserted.id, null::timestamptz[]
        from inserted
        join unnest(limit_names, scopes) with ordinality as requested(limit_name, scope, position)
          on requested.limit_name = inserted.limit_name and requested.scope = inserted.scope;
    end
    $$`.execute(db);
}
