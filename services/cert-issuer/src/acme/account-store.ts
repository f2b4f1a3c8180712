import { randomUUID } from 'node:crypto';
import { type Db, lockNames } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import acme from 'acme-client';
import { sql } from 'kysely';
import { classifyAcmeError, runCapturingProblems } from './acme-problem.ts';
import { generatePrivateKeyPem } from './keys.ts';

export interface AcmeAccount {
  id: string;
  directoryUrl: string;
  accountUrl: string;
  keyPem: string;
}

export interface ExternalAccountBinding {
  keyId: string;
  /** base64url HMAC key, as the CA hands it out. */
  hmacKey: string;
}

export interface AccountOptions {
  db: Db;
  box: SecretBox;
  directoryUrl: string;
  /** Contact address; '' for none. */
  email: string;
  eab?: ExternalAccountBinding | undefined;
}

/**
 * The account for (directory, email), created once and reused by every replica: check → lock →
 * check again → register → store (key sealed under the master key). Registration is idempotent at
 * the CA for the same key, so a crash between registering and storing costs nothing.
 */
export async function ensureAccount({
  db,
  box,
  directoryUrl,
  email,
  eab,
}: AccountOptions): Promise<AcmeAccount> {
  const existing = await findAccount(db, box, directoryUrl, email);
  if (existing) return existing;
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${lockNames.acmeAccount(directoryUrl, email)}))`.execute(
      trx,
    );
    const raced = await findAccount(trx as unknown as Db, box, directoryUrl, email);
    if (raced) return raced;
    // A forgotten account (the CA no longer knows it) keeps its row and id: certificates refer to it.
    const forgotten = await trx
      .selectFrom('acme_accounts')
      .select('id')
      .where('directory_url', '=', directoryUrl)
      .where('email', '=', email)
      .executeTakeFirst();
    const id = forgotten?.id ?? randomUUID();
    const keyPem = await generatePrivateKeyPem('ecdsa-p256');
    const client = new acme.Client({
      directoryUrl,
      accountKey: keyPem,
      ...(eab ? { externalAccountBinding: { kid: eab.keyId, hmacKey: eab.hmacKey } } : {}),
    });
    await runCapturingProblems(async () => {
      try {
        await client.createAccount({
          termsOfServiceAgreed: true,
          ...(email ? { contact: [`mailto:${email}`] } : {}),
        });
      } catch (error) {
        throw classifyAcmeError(error);
      }
    });
    const accountUrl = client.getAccountUrl();
    await trx
      .insertInto('acme_accounts')
      .values({
        id,
        directory_url: directoryUrl,
        email,
        account_url: accountUrl,
        key_encrypted: box.seal(keyPem, `acme_account:${id}`),
        eab_key_id: eab?.keyId ?? null,
      })
      .onConflict((conflict) =>
        conflict.columns(['directory_url', 'email']).doUpdateSet((eb) => ({
          account_url: eb.ref('excluded.account_url'),
          key_encrypted: eb.ref('excluded.key_encrypted'),
          eab_key_id: eb.ref('excluded.eab_key_id'),
        })),
      )
      .execute();
    return { id, directoryUrl, accountUrl, keyPem };
  });
}

async function findAccount(
  db: Db,
  box: SecretBox,
  directoryUrl: string,
  email: string,
): Promise<AcmeAccount | undefined> {
  const row = await db
    .selectFrom('acme_accounts')
    .selectAll()
    .where('directory_url', '=', directoryUrl)
    .where('email', '=', email)
    .executeTakeFirst();
  if (!row?.account_url) return undefined;
  return {
    id: row.id,
    directoryUrl,
    accountUrl: row.account_url,
    keyPem: box.openText(row.key_encrypted, `acme_account:${row.id}`),
  };
}

/**
 * Marks the account for (directory, email) as unknown to the CA (a test CA restarted, an account
 * deactivated), so the next `ensureAccount` registers a new one under the same row.
 */
export async function forgetAccount(db: Db, directoryUrl: string, email: string): Promise<void> {
  await db
    .updateTable('acme_accounts')
    .set({ account_url: null })
    .where('directory_url', '=', directoryUrl)
    .where('email', '=', email)
    .execute();
}
