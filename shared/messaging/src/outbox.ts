import type { Database } from '@gatehouse/db';
import type { Envelope } from '@gatehouse/events';
import { currentTraceHeaders } from '@gatehouse/telemetry';
import { type Kysely, sql, type Transaction } from 'kysely';

/** Channel the relay LISTENs on; a NOTIFY is delivered when the enqueuing transaction commits. */
export const outboxChannel = 'gatehouse_outbox';

/**
 * Adds events to the outbox inside the caller's transaction: they are published if and only if the
 * transaction commits. The active trace context is stored with them, so the consumer's span joins the
 * producer's trace. Build each event with `createEvent`, which validates it. One statement (rows and the
 * relay's wake-up together), whatever the number of events.
 */
export async function enqueue(trx: Transaction<Database>, ...events: Envelope[]): Promise<void> {
  if (events.length === 0) return;
  await trx
    .with('queued', (db) => db.insertInto('outbox').values(outboxRows(events)))
    .selectNoFrom(outboxWakeUp.as('notified'))
    .execute();
}

/**
 * The outbox rows of `events`, for a statement that writes them together with other rows (a data-modifying
 * CTE): the rows and `outboxWakeUp` in one statement commit atomically, so it needs no transaction of its own.
 */
export function outboxRows(events: readonly Envelope[]) {
  const headers = JSON.stringify(currentTraceHeaders());
  return events.map((event) => ({
    event_id: event.id,
    type: event.type,
    subject: event.subject,
    envelope: JSON.stringify(event),
    headers,
  }));
}

/** Wakes the relay; like every NOTIFY it is delivered when the statement's transaction commits. */
export const outboxWakeUp = sql<string>`pg_notify(${outboxChannel}, '')`;

/** Deletes published rows older than `olderThanMs`; the outbox is a queue, not an archive. */
export async function pruneOutbox(db: Kysely<Database>, olderThanMs: number): Promise<number> {
  const result = await db
    .deleteFrom('outbox')
    .where('published_at', '<', new Date(Date.now() - olderThanMs))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
