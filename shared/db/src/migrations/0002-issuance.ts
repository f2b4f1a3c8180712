import { type Kysely, sql } from 'kysely';

/**
 * Issuance work queue, rate-limit ledger and preflight results.
 *
 * `issuance_jobs` is cert-issuer's durable queue: a `certs.requested` event becomes a job row in the
 * consumer's transaction, and replicas claim due jobs with a lease, so a crash mid-order leaves a row
 * another replica (or the restarted one) resumes. Retry and rate-limit deferrals are `next_attempt_at`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('issuance_jobs')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('certificate_id', 'uuid', (col) =>
      col.notNull().references('certificates.id').onDelete('cascade'),
    )
    .addColumn('names_key', 'text', (col) => col.notNull())
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('challenge', 'text', (col) => col.notNull())
    .addColumn('key_type', 'text', (col) => col.notNull())
    // queued → running → done | failed; `deferred` waits for next_attempt_at (retry or rate limit).
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempt', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('lease_holder', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('deferred_reason', 'text')
    .addColumn('last_error_kind', 'text')
    .addColumn('last_error_message', 'text')
    // W3C trace context of the request, so the whole issuance is one trace across retries.
    .addColumn('trace_headers', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  // At most one open job per certificate: a second request for it joins the open one.
  await sql`create unique index issuance_jobs_one_open on issuance_jobs (certificate_id)
    where status in ('queued', 'running', 'deferred')`.execute(db);
  await sql`create index issuance_jobs_due on issuance_jobs (next_attempt_at)
    where status in ('queued', 'running', 'deferred')`.execute(db);

  // One row per counted action (an order, a certificate, a failed authorization, a request), for
  // sliding-window limits shared by every replica. Old rows are pruned past the longest window.
  await db.schema
    .createTable('rate_limit_events')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('limit_name', 'text', (col) => col.notNull())
    .addColumn('scope', 'text', (col) => col.notNull())
    .addColumn('occurred_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('rate_limit_events_lookup')
    .on('rate_limit_events')
    .columns(['limit_name', 'scope', 'occurred_at'])
    .execute();

  await db.schema
    .alterTable('certificates')
    // Last preflight result per name: [{name, check, ok, detail}], shown with the certificate.
    .addColumn('preflight', 'jsonb')
    .addColumn('preflight_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('certificates').dropColumn('preflight').dropColumn('preflight_at').execute();
  await db.schema.dropTable('rate_limit_events').ifExists().execute();
  await db.schema.dropTable('issuance_jobs').ifExists().execute();
}
