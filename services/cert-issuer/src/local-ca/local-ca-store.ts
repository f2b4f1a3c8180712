import { randomUUID, X509Certificate } from 'node:crypto';
import { type Database, type Db, lockNames } from '@gatehouse/db';
import {
  type CertificateIssuer,
  createLocalCaIntermediate,
  createLocalCaRoot,
  intermediateRotateAt,
  localCaKeyContext,
  type SecretBox,
} from '@gatehouse/pki';
import { sql, type Transaction } from 'kysely';

/** A local CA certificate ready to sign: PEM, opened key, and its end. */
export type LocalCaSigner = CertificateIssuer & { id: string; notAfter: Date };

/**
 * The intermediate that signs local CA leaves now, made on first use (with the root, once per installation)
 * and replaced once past {@link intermediateRotateAt}.
 *
 * Check → lock → check again → act → persist: the common case reads the newest intermediate without a lock;
 * only creation takes the `local-ca` advisory lock, re-reads, and inserts in the same transaction, so replicas
 * racing at first use or at a rotation make one root and one new intermediate (the root also has a unique
 * index, the last guard). Older intermediates stay stored: leaves they signed remain valid until they end.
 */
export async function currentLocalCaSigner(db: Db, box: SecretBox, now = new Date()): Promise<LocalCaSigner> {
  const usable = await newestUsableIntermediate(db, now);
  if (usable) return open(box, usable);
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${lockNames.localCa}))`.execute(trx);
    const again = await newestUsableIntermediate(trx, now);
    if (again) return open(box, again);
    const root = open(box, await findOrCreateRoot(trx, box, now));
    const made = await createLocalCaIntermediate(root, now);
    return open(box, await insertCertificate(trx, box, 'intermediate', made));
  });
}

type Queryable = Db | Transaction<Database>;
type StoredRow = { id: string; cert_pem: string; key_encrypted: string; not_before: Date; not_after: Date };

async function newestUsableIntermediate(db: Queryable, now: Date): Promise<StoredRow | undefined> {
  const row = await db
    .selectFrom('local_ca_certificates')
    .select(['id', 'cert_pem', 'key_encrypted', 'not_before', 'not_after'])
    .where('kind', '=', 'intermediate')
    .orderBy('not_after', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return undefined;
  return intermediateRotateAt(row.not_before, row.not_after) > now ? row : undefined;
}

async function findOrCreateRoot(trx: Transaction<Database>, box: SecretBox, now: Date): Promise<StoredRow> {
  const root = await trx
    .selectFrom('local_ca_certificates')
    .select(['id', 'cert_pem', 'key_encrypted', 'not_before', 'not_after'])
    .where('kind', '=', 'root')
    .executeTakeFirst();
  if (root) return root;
  return insertCertificate(trx, box, 'root', await createLocalCaRoot(now));
}

async function insertCertificate(
  trx: Transaction<Database>,
  box: SecretBox,
  kind: 'root' | 'intermediate',
  pair: { certPem: string; keyPem: string },
): Promise<StoredRow> {
  const id = randomUUID();
  const certificate = new X509Certificate(pair.certPem);
  const row = {
    id,
    cert_pem: pair.certPem,
    key_encrypted: box.seal(pair.keyPem, localCaKeyContext(id)),
    not_before: new Date(certificate.validFrom),
    not_after: new Date(certificate.validTo),
  };
  await trx
    .insertInto('local_ca_certificates')
    .values({ ...row, kind })
    .execute();
  return row;
}

function open(box: SecretBox, row: StoredRow): LocalCaSigner {
  return {
    id: row.id,
    certPem: row.cert_pem,
    keyPem: box.openText(row.key_encrypted, localCaKeyContext(row.id)),
    notAfter: row.not_after,
  };
}
