import type { Db } from '@gatehouse/db';
import type { ChallengeSolver } from '../acme/issuer.ts';

/** How long a token stays answerable if cleanup never runs (a crash): the CA is long done by then. */
const tokenLifetimeMs = 30 * 60_000;

/**
 * HTTP-01 through Postgres: `present` stores the token so whichever replica Traefik routes the CA's
 * request to can answer it; `cleanup` deletes it.
 */
export function createHttp01Solver(db: Db): ChallengeSolver {
  return {
    type: 'http-01',
    async present(name, token, keyAuthorization) {
      await db
        .insertInto('http01_tokens')
        .values({
          token,
          key_authorization: keyAuthorization,
          hostname: name,
          expires_at: new Date(Date.now() + tokenLifetimeMs),
        })
        .onConflict((conflict) =>
          conflict.column('token').doUpdateSet({ key_authorization: keyAuthorization }),
        )
        .execute();
    },
    async cleanup(_name, token) {
      await db.deleteFrom('http01_tokens').where('token', '=', token).execute();
    },
  };
}

/** Removes tokens whose cleanup never ran (a replica crashed mid-challenge). */
export async function pruneExpiredHttp01Tokens(db: Db): Promise<number> {
  const result = await db.deleteFrom('http01_tokens').where('expires_at', '<', new Date()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
