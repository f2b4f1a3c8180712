import { type Kysely, sql } from 'kysely';

/**
 * The first schema: every table DESIGN.md lists. Later changes are new migrations, never edits here.
 * Secrets live only in `*_encrypted` columns, sealed by @gatehouse/pki's secret box.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('apps')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('image', 'text', (col) => col.notNull())
    .addColumn('port', 'integer', (col) => col.notNull().check(sql`port between 1 and 65535`))
    .addColumn('env', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('command', 'jsonb')
    .addColumn('revision', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('domains')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('app_id', 'uuid', (col) => col.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('hostname', 'text', (col) => col.notNull().unique())
    .addColumn('https', 'boolean', (col) => col.notNull())
    .addColumn('www', 'text', (col) => col.notNull().defaultTo('none'))
    .addColumn('challenge', 'text', (col) => col.notNull().defaultTo('auto'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('domains_app_id').on('domains').column('app_id').execute();

  await db.schema
    .createTable('deployments')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('app_id', 'uuid', (col) => col.notNull())
    .addColumn('revision', 'integer', (col) => col.notNull())
    .addColumn('container_id', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('upstream_host', 'text')
    .addColumn('upstream_port', 'integer')
    .addColumn('error_reason', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('deployments_app_id')
    .on('deployments')
    .columns(['app_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('acme_accounts')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('directory_url', 'text', (col) => col.notNull())
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('account_url', 'text')
    .addColumn('key_encrypted', 'text', (col) => col.notNull())
    .addColumn('eab_key_id', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('acme_accounts_directory_email', ['directory_url', 'email'])
    .execute();

  await db.schema
    .createTable('certificates')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    // Sorted, lower-case punycode names; `names_key` is their canonical join for equality lookups.
    .addColumn('names', sql`text[]`, (col) => col.notNull())
    .addColumn('names_key', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('key_type', 'text', (col) => col.notNull().defaultTo('ecdsa-p256'))
    .addColumn('issuer', 'text')
    .addColumn('acme_account_id', 'uuid', (col) => col.references('acme_accounts.id'))
    .addColumn('serial', 'text')
    .addColumn('chain_pem', 'text')
    .addColumn('private_key_encrypted', 'text')
    .addColumn('not_before', 'timestamptz')
    .addColumn('not_after', 'timestamptz')
    .addColumn('renew_at', 'timestamptz')
    .addColumn('renew_reason', 'text')
    .addColumn('ari_window_start', 'timestamptz')
    .addColumn('ari_window_end', 'timestamptz')
    .addColumn('ari_next_poll_at', 'timestamptz')
    .addColumn('failure_count', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_retry_at', 'timestamptz')
    .addColumn('last_error_kind', 'text')
    .addColumn('last_error_message', 'text')
    .addColumn('last_error_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('certificates_names_key').on('certificates').column('names_key').execute();
  await db.schema.createIndex('certificates_names').on('certificates').using('gin').column('names').execute();
  // Renewal scans read only what is due: cost follows the number of due certificates, not all of them.
  await db.schema
    .createIndex('certificates_renew_at')
    .on('certificates')
    .column('renew_at')
    .where(sql.ref('renew_at'), 'is not', null)
    .execute();

  await db.schema
    .createTable('orders')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('certificate_id', 'uuid', (col) =>
      col.notNull().references('certificates.id').onDelete('cascade'),
    )
    .addColumn('directory_url', 'text', (col) => col.notNull())
    .addColumn('acme_account_id', 'uuid', (col) => col.references('acme_accounts.id'))
    .addColumn('order_url', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('challenge_type', 'text')
    .addColumn('key_encrypted', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('orders_certificate_id').on('orders').column('certificate_id').execute();

  await db.schema
    .createTable('order_attempts')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('certificate_id', 'uuid', (col) =>
      col.notNull().references('certificates.id').onDelete('cascade'),
    )
    .addColumn('order_id', 'uuid', (col) => col.references('orders.id').onDelete('set null'))
    .addColumn('directory_url', 'text', (col) => col.notNull())
    .addColumn('acme_account_id', 'uuid')
    .addColumn('challenge_type', 'text')
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('error_kind', 'text')
    .addColumn('error_message', 'text')
    .addColumn('started_at', 'timestamptz', (col) => col.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addColumn('duration_ms', 'integer')
    .execute();
  await db.schema
    .createIndex('order_attempts_certificate_id')
    .on('order_attempts')
    .columns(['certificate_id', 'started_at'])
    .execute();

  await db.schema
    .createTable('http01_tokens')
    .addColumn('token', 'text', (col) => col.primaryKey())
    .addColumn('key_authorization', 'text', (col) => col.notNull())
    .addColumn('hostname', 'text', (col) => col.notNull())
    .addColumn('order_id', 'uuid', (col) => col.references('orders.id').onDelete('cascade'))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('dns_providers')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('zone', 'text', (col) => col.notNull().unique())
    .addColumn('kind', 'text', (col) => col.notNull())
    // Non-secret settings in the clear; everything secret sealed in `secret_encrypted`.
    .addColumn('config', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('secret_encrypted', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('certificate_id', 'uuid', (col) => col.references('certificates.id').onDelete('set null'))
    .addColumn('dedupe_key', 'text')
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('recipients', sql`text[]`, (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('sent_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('notifications_dedupe_key').on('notifications').column('dedupe_key').execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('value', 'jsonb', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  // Transactional outbox: written in the producer's transaction, published by the relay in `seq` order.
  await db.schema
    .createTable('outbox')
    .addColumn('seq', 'bigserial', (col) => col.primaryKey())
    .addColumn('event_id', 'uuid', (col) => col.notNull().unique())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('envelope', 'jsonb', (col) => col.notNull())
    .addColumn('headers', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('published_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('outbox_unpublished')
    .on('outbox')
    .column('seq')
    .where(sql.ref('published_at'), 'is', null)
    .execute();

  await db.schema
    .createTable('processed_events')
    .addColumn('consumer', 'text', (col) => col.notNull())
    .addColumn('event_id', 'uuid', (col) => col.notNull())
    .addColumn('processed_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('processed_events_pk', ['consumer', 'event_id'])
    .execute();

  // Messages a consumer gave up on (malformed, or failing past their delivery limit), kept for inspection.
  await db.schema
    .createTable('dead_letters')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('consumer', 'text', (col) => col.notNull())
    .addColumn('nats_subject', 'text', (col) => col.notNull())
    .addColumn('stream_seq', 'bigint')
    .addColumn('event_id', 'text')
    .addColumn('payload', 'text', (col) => col.notNull())
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('recorded_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  // Lease rows for expensive external work that outlives one transaction (an ACME order).
  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('holder', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'leases',
    'dead_letters',
    'processed_events',
    'outbox',
    'settings',
    'notifications',
    'dns_providers',
    'http01_tokens',
    'order_attempts',
    'orders',
    'certificates',
    'acme_accounts',
    'deployments',
    'domains',
    'apps',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
