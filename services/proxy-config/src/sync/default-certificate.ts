import type { Db } from '@gatehouse/db';
import { createSelfSignedCertificate, type PemPair, type SecretBox } from '@gatehouse/pki';
import { sql } from 'kysely';

const settingKey = 'proxy.default-certificate';

export type { PemPair };

/**
 * The self-signed certificate Traefik serves when no other matches (no SNI, unknown name). Made once
 * at first start and stored (key sealed) so every edge node serves the same one and a lost volume
 * heals with identical files.
 */
export async function ensureDefaultCertificate(db: Db, box: SecretBox): Promise<PemPair> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${settingKey}))`.execute(trx);
    const existing = await trx
      .selectFrom('settings')
      .select('value')
      .where('key', '=', settingKey)
      .executeTakeFirst();
    if (existing) {
      const stored = existing.value as { certPem: string; keySealed: string };
      return { certPem: stored.certPem, keyPem: box.openText(stored.keySealed, settingKey) };
    }
    const made = await createSelfSignedCertificate({ commonName: 'gatehouse-default' });
    await trx
      .insertInto('settings')
      .values({
        key: settingKey,
        value: JSON.stringify({ certPem: made.certPem, keySealed: box.seal(made.keyPem, settingKey) }),
      })
      .execute();
    return made;
  });
}
