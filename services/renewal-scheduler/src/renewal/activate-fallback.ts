import { type Database, type Db, settingKeys } from '@gatehouse/db';
import { certsFallbackActivated, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { certificateKeyContext, covers, createSelfSignedCertificate, type SecretBox } from '@gatehouse/pki';
import { sql, type Transaction } from 'kysely';

export interface ActivatedFallback {
  id: string;
  names: string[];
  fallback: 'self-signed' | 'custom-wildcard';
}

/**
 * Puts ACME and local CA certificates that expired without a successful renewal on a fallback, so their sites keep
 * answering over TLS instead of going dark: a self-signed certificate for the same names is made, its key
 * sealed with the certificate's own secret-box context (`certificate:<id>`, as proxy-config opens it), stored on
 * the row with status `fallback`, and `certs.fallback-activated` emitted, all in one transaction. When the
 * operator's fallback wildcard covers every name, the event says so (proxy-config then serves that instead);
 * the self-signed one is made anyway, for the day the wildcard setting is removed.
 *
 * Renewal keeps going (cert-issuer's retry ladder); a successful one writes the new chain and status `valid`,
 * and the fallback columns are ignored again. Rows are found through the `renew_at` index (an expired
 * certificate is always past its renewal time) and locked with SKIP LOCKED, so replicas share the work.
 */
export async function activateExpiredFallbacks(
  db: Db,
  box: SecretBox,
  limit: number,
  now = new Date(),
): Promise<ActivatedFallback[]> {
  return db.transaction().execute(async (trx) => {
    const expired = await trx
      .selectFrom('certificates')
      .select(['id', 'names'])
      .where('renew_at', '<=', now)
      .where('not_after', '<=', now)
      .where('source', 'in', ['acme', 'local-ca'])
      .where('status', 'in', ['valid', 'renewing', 'failed'])
      .where('chain_pem', 'is not', null)
      .where('released_at', 'is', null)
      .orderBy('renew_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    return activate(trx, box, expired, 'expired', now);
  });
}

/**
 * Puts ACME certificates that never got issued on a fallback once the admins have been reminded
 * `reminders` times (Cloudron's rule, 30 by default): the site has been without a certificate of its own for
 * days, and a self-signed one (or the operator's wildcard) at least answers. A certificate that is still
 * valid is not touched here, however long its renewal fails: it keeps serving until it expires (above).
 *
 * Reminders are the notifier's `notifications` rows of kind `reminder` for the certificate; only those
 * since the failure began count (`last_error_at` is the latest failure, so: the episode's first failure is
 * approximated by the certificate's creation, which for a never-issued certificate is the same episode).
 */
export async function activateFallbacksAfterReminders(
  db: Db,
  box: SecretBox,
  options: { limit: number; reminders: number; now?: Date },
): Promise<ActivatedFallback[]> {
  const now = options.now ?? new Date();
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ id: string; names: string[] }>`
      select c.id, c.names from certificates c
      where c.status = 'failed' and c.source = 'acme' and c.chain_pem is null and c.released_at is null
        and (
          select count(*) from notifications n
          where n.certificate_id = c.id and n.kind = 'reminder' and n.created_at >= c.created_at
        ) >= ${options.reminders}
      order by c.id
      limit ${options.limit}
      for update of c skip locked`.execute(trx);
    return activate(trx, box, rows, 'reminders-exhausted', now);
  });
}

/** Makes, seals and stores the self-signed stand-ins, and emits `certs.fallback-activated`, in `trx`. */
async function activate(
  trx: Transaction<Database>,
  box: SecretBox,
  rows: ReadonlyArray<{ id: string; names: string[] }>,
  reason: 'expired' | 'reminders-exhausted',
  now: Date,
): Promise<ActivatedFallback[]> {
  if (rows.length === 0) return [];
  const wildcardNames = await operatorWildcardNames(trx, now);
  const activated: ActivatedFallback[] = [];
  for (const row of rows) {
    const pair = await createSelfSignedCertificate({
      commonName: row.names[0]!,
      dnsNames: row.names,
      days: 30,
    });
    await trx
      .updateTable('certificates')
      .set({
        status: 'fallback',
        fallback_chain_pem: pair.certPem,
        fallback_key_encrypted: box.seal(pair.keyPem, certificateKeyContext(row.id)),
        fallback_activated_at: now,
        updated_at: now,
      })
      .where('id', '=', row.id)
      .execute();
    const fallback =
      wildcardNames && row.names.every((name) => covers(wildcardNames, name))
        ? 'custom-wildcard'
        : 'self-signed';
    await enqueue(
      trx,
      createEvent(certsFallbackActivated, {
        source: 'renewal-scheduler',
        subject: row.id,
        data: { certificateId: row.id, names: row.names, fallback, reason },
      }),
    );
    activated.push({ id: row.id, names: row.names, fallback });
  }
  return activated;
}

/** The names of the operator's fallback wildcard, when the setting names a valid, unexpired custom certificate. */
async function operatorWildcardNames(trx: Transaction<Database>, now: Date): Promise<string[] | undefined> {
  const setting = await trx
    .selectFrom('settings')
    .select('value')
    .where('key', '=', settingKeys.fallbackCertificateId)
    .executeTakeFirst();
  const id = typeof setting?.value === 'string' ? setting.value : undefined;
  if (!id || !/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const certificate = await trx
    .selectFrom('certificates')
    .select('names')
    .where('id', '=', sql<string>`${id}::uuid`)
    .where('source', '=', 'custom')
    .where('status', '=', 'valid')
    .where('not_after', '>', now)
    .executeTakeFirst();
  return certificate?.names;
}
