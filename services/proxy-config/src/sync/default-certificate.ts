import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import { sql } from 'kysely';

const settingKey = 'proxy.default-certificate';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

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
    const made = makeSelfSigned('gatehouse-default');
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

/** A P-256 self-signed certificate via openssl (Node has no X.509 writer). */
function makeSelfSigned(commonName: string): PemPair {
  const dir = mkdtempSync(join(tmpdir(), 'gh-selfsigned-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/CN=${commonName}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
