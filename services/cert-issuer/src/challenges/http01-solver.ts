import type { Db } from '@gatehouse/db';
import type { ChallengeSolver } from '../acme/issuer.ts';
import type { Http01TokenCache } from './http01-token-cache.ts';

/** How long a token stays answerable if cleanup never runs (a crash): the CA is long done by then. */
const tokenLifetimeMs = 30 * 60_000;

/**
 * HTTP-01 through Postgres: `present` stores the token so whichever replica Traefik routes the CA's
 * request to can answer it; `cleanup` deletes it. With `tokens` (the token cache of this process's
 * responder) a presented token is also answered from memory here until its cleanup, so the CA's request
 * to this replica costs no query; other replicas still find it in Postgres.
 */
export function createHttp01Solver(db: Db, tokens?: Http01TokenCache): ChallengeSolver {
  return {
    type: 'http-01',
    async present(name, token, keyAuthorization) {
      const expiresAt = new Date(Date.now() + tokenLifetimeMs);
      await db
        .insertInto('http01_tokens')
        .values({ token, key_authorization: keyAuthorization, hostname: name, expires_at: expiresAt })
        .onConflict((conflict) =>
          conflict.column('token').doUpdateSet({ key_authorization: keyAuthorization }),
        )
        .execute();
      // Cached only once stored: a failed insert leaves nothing that only this replica would answer.
      tokens?.remember(token, { hostname: name.toLowerCase(), keyAuthorization }, tokenLifetimeMs);
    },
    async cleanup(_name, token) {
      tokens?.forget(token);
      await db.deleteFrom('http01_tokens').where('token', '=', token).execute();
    },
  };
}

/** Removes tokens whose cleanup never ran (a replica crashed mid-challenge). */
export async function pruneExpiredHttp01Tokens(db: Db): Promise<number> {
  const result = await db.deleteFrom('http01_tokens').where('expires_at', '<', new Date()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
