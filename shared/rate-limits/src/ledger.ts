import type { Db } from '@gatehouse/db';
import { sql } from 'kysely';
import { evaluateBudget } from './budget.ts';
import { describeRefusal } from './reason.ts';
import { isUnlimited, type LimitName, type LimitRule } from './rules.ts';

/**
 * One budget to check or spend. `scope` is a string the caller builds (see `rateLimitScopes`): the account URL
 * for per-account limits, directory + registered domain, directory + names key for duplicates, and
 * `name|account` for failed authorizations. Requests naming the same (limit, scope) count once.
 */
export interface LimitRequest {
  limit: LimitName;
  rule: LimitRule;
  scope: string;
  /**
   * `reserve` only: count this budget (it must allow) without spending a slot of it. For budgets of failures
   * (failed authorizations), `record`ed after a failure, checked in the same call as the order's budgets.
   */
  checkOnly?: boolean;
}

export type LimitOutcome =
  | { allowed: true }
  | { allowed: false; limit: LimitName; scope: string; retryAt: Date; reason: string };

/** A granted reservation: the ledger rows it wrote, per budget, so slots that were not used can be handed back. */
export type Reservation = { allowed: true; events: Array<{ id: string; limit: LimitName }> };

/** Advisory lock names are `gatehouse.rate-limit:<limit>|<scope>`, hashed with Postgres `hashtext`. */
const lockPrefix = 'gatehouse.rate-limit:';

export function rateLimitLockName(limit: LimitName, scope: string): string {
  return `${lockPrefix}${limit}|${scope}`;
}

/**
 * Spends one slot of every requested budget (only checks those marked `checkOnly`), or none. Safe across replicas: it takes an advisory lock per
 * (limit, scope), in ascending lock-key order so two reservations never deadlock, counts each window, and
 * inserts one event per request only if every budget allows — one call of a database function (migration
 * 0018), so one round trip. Given a transaction, it runs inside it and the locks are held until the caller
 * commits.
 *
 * Refused: reports the budget that refills last (`retryAt` is the earliest moment the whole reservation could
 * succeed) with a sentence for the operator; nothing is recorded.
 */
export async function reserve(
  db: Db,
  requests: readonly LimitRequest[],
  now = new Date(),
): Promise<Reservation | Exclude<LimitOutcome, { allowed: true }>> {
  const distinct = distinctRequests(requests);
  if (distinct.length === 0) return { allowed: true, events: [] };
  const { rows } = await sql<{
    request_index: number;
    event_id: string | null;
    refused_events: Date[] | null;
  }>`
    select * from gatehouse_reserve_rate_limits(
      ${distinct.map((request) => rateLimitLockName(request.limit, request.scope))}::text[],
      ${distinct.map((request) => request.limit)}::text[],
      ${distinct.map((request) => request.scope)}::text[],
      ${distinct.map((request) => new Date(now.getTime() - request.rule.windowMs))}::timestamptz[],
      ${distinct.map((request) => request.rule.max)}::integer[],
      ${distinct.map((request) => request.checkOnly !== true)}::boolean[],
      ${now})`.execute(db);
  const refusals = rows.filter((row) => row.refused_events !== null);
  if (refusals.length > 0) {
    const counted = new Map<LimitRequest, Date[]>();
    for (const row of refusals) counted.set(distinct[row.request_index - 1]!, row.refused_events!);
    const refusal = latestRefusal([...counted.keys()], (request) => counted.get(request) ?? [], now);
    // The function refuses exactly when evaluateBudget would; a refusal it cannot explain is a bug.
    if (!refusal) throw new Error('rate limit reservation refused without a refusing budget');
    return refusal;
  }
  return {
    allowed: true,
    events: rows.map((row) => ({ id: String(row.event_id), limit: distinct[row.request_index - 1]!.limit })),
  };
}

/**
 * Spends up to `wanted` slots of one budget at once (at least one, or none): for a throttle that hands the slots
 * out in-process, so a burst of requests costs one transaction instead of one each. Locked like `reserve`. The
 * slots are stamped `now`, so they leave the window at `now + windowMs`: a caller MUST NOT use them after that.
 * Refused when not a single slot is free, with the same `retryAt` and reason as `reserve`.
 */
export async function reserveSlots(
  db: Db,
  request: LimitRequest,
  wanted: number,
  now = new Date(),
): Promise<{ allowed: true; granted: number } | Extract<LimitOutcome, { allowed: false }>> {
  if (!Number.isInteger(wanted) || wanted < 1)
    throw new Error(`reserveSlots: wanted must be >= 1, got ${wanted}`);
  if (isUnlimited(request.rule)) return { allowed: true, granted: wanted };
  const [distinct] = distinctRequests([request]);
  const run = async (trx: Db) => {
    await lockInOrder(trx, [distinct!]);
    const { rows } = await sql<{ used: number }>`
      select count(*)::int as used from rate_limit_events
      where limit_name = ${request.limit} and scope = ${request.scope}
        and occurred_at > ${new Date(now.getTime() - request.rule.windowMs)}`.execute(trx);
    const granted = Math.min(wanted, request.rule.max - (rows[0]?.used ?? 0));
    if (granted < 1) {
      const outcome = await evaluate(trx, [distinct!], now);
      // Counted as spent a moment ago, free by now (a clock step): let the next call try again.
      return outcome.allowed ? { allowed: true as const, granted: 0 } : outcome;
    }
    await trx
      .insertInto('rate_limit_events')
      .values(
        Array.from({ length: granted }, () => ({
          limit_name: request.limit,
          scope: request.scope,
          occurred_at: now,
        })),
      )
      .execute();
    return { allowed: true as const, granted };
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

/**
 * Hands back slots of a reservation that were not used: an order that never reached the CA spent nothing
 * there, and one that issued no certificate spent no certificate budget (duplicates, per registered domain),
 * while the CA did count the order. Without this, a CA outage would burn a week of duplicate-certificate budget.
 */
export async function release(db: Db, reservation: Reservation, limits: readonly LimitName[]): Promise<void> {
  const ids = reservation.events.filter((event) => limits.includes(event.limit)).map((event) => event.id);
  if (ids.length === 0) return;
  await db.deleteFrom('rate_limit_events').where(sql<string>`id::text`, 'in', ids).execute();
}

/**
 * Evaluates like `reserve` without recording or locking: for budgets that count failures (failed
 * authorizations), which are checked before acting and `record`ed only after a failure.
 */
export async function check(
  db: Db,
  requests: readonly LimitRequest[],
  now = new Date(),
): Promise<LimitOutcome> {
  const distinct = distinctRequests(requests);
  if (distinct.length === 0) return { allowed: true };
  return evaluate(db, distinct, now);
}

/** Appends one event (e.g. a failed authorization). Takes the db or the caller's transaction. */
export async function record(db: Db, limit: LimitName, scope: string, at = new Date()): Promise<void> {
  await db.insertInto('rate_limit_events').values({ limit_name: limit, scope, occurred_at: at }).execute();
}

/**
 * Deletes events older than `olderThan`; pass `now - longestWindowMs(...)` so no window loses an event it still
 * counts. Returns how many rows went.
 */
export async function prune(db: Db, olderThan: Date): Promise<number> {
  const result = await db
    .deleteFrom('rate_limit_events')
    .where('occurred_at', '<', olderThan)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

function requestKey(request: { limit: LimitName; scope: string }): string {
  return `${request.limit}|${request.scope}`;
}

/** The requests to count, each once; an unlimited rule is not counted (no lock, no row). */
function distinctRequests(requests: readonly LimitRequest[]): LimitRequest[] {
  const byKey = new Map<string, LimitRequest>();
  for (const request of requests) {
    if (isUnlimited(request.rule)) continue;
    if (request.scope === '') throw new Error(`rate limit ${request.limit}: empty scope`);
    const key = requestKey(request);
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, request);
    else if (seen.rule.max !== request.rule.max || seen.rule.windowMs !== request.rule.windowMs) {
      throw new Error(`rate limit ${request.limit} (${request.scope}) requested twice with different rules`);
    } else if (seen.checkOnly && !request.checkOnly) byKey.set(key, request); // Spending it checks it too.
  }
  return [...byKey.values()];
}

/**
 * Locks by the hashed key's numeric order, not the name's: two names can share a hash, and only one order over
 * the actual lock keys rules out deadlocks. One round trip: the database function (migration 0016) takes them
 * one by one in that order.
 */
async function lockInOrder(trx: Db, requests: readonly LimitRequest[]): Promise<void> {
  const names = requests.map((request) => rateLimitLockName(request.limit, request.scope));
  await sql`select gatehouse_advisory_xact_lock_all(${names}::text[])`.execute(trx);
}

async function evaluate(db: Db, requests: readonly LimitRequest[], now: Date): Promise<LimitOutcome> {
  const rows = await db
    .selectFrom('rate_limit_events')
    .select(['limit_name', 'scope', 'occurred_at'])
    .where((eb) =>
      eb.or(
        requests.map((request) =>
          eb.and([
            eb('limit_name', '=', request.limit),
            eb('scope', '=', request.scope),
            eb('occurred_at', '>', new Date(now.getTime() - request.rule.windowMs)),
          ]),
        ),
      ),
    )
    .execute();
  const events = new Map<string, Date[]>();
  for (const row of rows) {
    const key = `${row.limit_name}|${row.scope}`;
    const list = events.get(key);
    if (list) list.push(row.occurred_at);
    else events.set(key, [row.occurred_at]);
  }

  return (
    latestRefusal(requests, (request) => events.get(requestKey(request)) ?? [], now) ?? { allowed: true }
  );
}

/** The refusing budget that refills last, if any budget refuses: the earliest moment all of them could allow. */
function latestRefusal(
  requests: readonly LimitRequest[],
  eventsOf: (request: LimitRequest) => readonly Date[],
  now: Date,
): Extract<LimitOutcome, { allowed: false }> | undefined {
  let refusal: Extract<LimitOutcome, { allowed: false }> | undefined;
  for (const request of requests) {
    const verdict = evaluateBudget(request.rule, eventsOf(request), now);
    if (verdict.allowed) continue;
    if (refusal && refusal.retryAt >= verdict.retryAt) continue;
    refusal = {
      allowed: false,
      limit: request.limit,
      scope: request.scope,
      retryAt: verdict.retryAt,
      reason: describeRefusal(request.limit, request.scope, request.rule, verdict.used, verdict.retryAt),
    };
  }
  return refusal;
}
