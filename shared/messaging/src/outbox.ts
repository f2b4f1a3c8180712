import type { Database } from '@gatehouse/db';
import type { Envelope } from '@gatehouse/events';
import { currentTraceHeaders } from '@gatehouse/telemetry';
import { type Kysely, sql, type Transaction } from 'kysely';

/** Channel the relay LISTENs on; a NOTIFY is delivered when the enqueuing transaction commits. */
export const outboxChannel = 'gatehouse_outbox';

/**
 * Adds an event to the outbox inside the caller's transaction: it is published if and only if the
 * transaction commits. The active trace context is stored with it, so the consumer's span joins the
 * producer's trace. Build `event` with `createEvent`, which validates it.
 */
export async function enqueue(trx: Transaction<Database>, event: Envelope): Promise<void> {
  await trx
    .insertInto('outbox')
    .values({
      event_id: event.id,
      type: event.type,
      subject: event.subject,
      envelope: JSON.stringify(event),
      headers: JSON.stringify(currentTraceHeaders()),
    })
    .execute();
  await sql`select pg_notify(${outboxChannel}, '')`.execute(trx);
}

/** Deletes published rows older than `olderThanMs`; the outbox is a queue, not an archive. */
export async function pruneOutbox(db: Kysely<Database>, olderThanMs: number): Promise<number> {
  const result = await db
    .deleteFrom('outbox')
    .where('published_at', '<', new Date(Date.now() - olderThanMs))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
