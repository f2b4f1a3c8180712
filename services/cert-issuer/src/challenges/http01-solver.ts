import type { Db } from '@gatehouse/db';
import type { Logger } from '@gatehouse/telemetry';
import type { ChallengeSolver } from '../acme/issuer.ts';
import type { Http01TokenCache } from './http01-token-cache.ts';
import { createHttp01TokenDeletes, type Http01TokenDeletesOptions } from './http01-token-deletes.ts';

/** How long a token stays answerable if cleanup never runs (a crash): the CA is long done by then. */
const tokenLifetimeMs = 30 * 60_000;

export interface Http01Solver extends ChallengeSolver {
  /** Sends the deletes cleanups queued; call on shutdown, after the last order ended. Never rejects. */
  flush(): Promise<void>;
}

export interface Http01SolverOptions {
  /** The token cache of this process's responder (see below). */
  tokens?: Http01TokenCache | undefined;
  logger?: Logger | undefined;
  /** How cleanups' deletes are coalesced (`createHttp01TokenDeletes`). */
  deletes?: Omit<Http01TokenDeletesOptions, 'logger'>;
}

/**
 * HTTP-01 through Postgres: `present` stores the token so whichever replica Traefik routes the CA's
 * request to can answer it; `cleanup` deletes it. With `tokens` (the token cache of this process's
 * responder) a presented token is also answered from memory here until its cleanup, so the CA's request
 * to this replica costs no query; other replicas still find it in Postgres.
 *
 * Cleanup forgets the token from memory at once and queues the row's delete, which goes out with others
 * (one statement, see `createHttp01TokenDeletes`): the row answers a little longer on other replicas, which
 * is harmless (the CA is done with it), and a crash loses only queued deletes, which the prune removes later.
 */
export function createHttp01Solver(db: Db, options: Http01SolverOptions = {}): Http01Solver {
  const { tokens } = options;
  const deletes = createHttp01TokenDeletes(db, { ...options.deletes, logger: options.logger });
  /** The expiry stored with each token presented here and not cleaned up yet: the row its delete names. */
  const presented = new Map<string, Date>();
  return {
    type: 'http-01',
    async present(name, token, keyAuthorization) {
      // A re-presentation gets a later expiry than the one a queued or in-flight delete names (time has moved on
      // since: a CA round trip at least), so that delete leaves this row alone.
      deletes.cancel(token);
      const expiresAt = new Date(Date.now() + tokenLifetimeMs);
      presented.set(token, expiresAt);
      try {
        await db
          .insertInto('http01_tokens')
          .values({ token, key_authorization: keyAuthorization, hostname: name, expires_at: expiresAt })
          .onConflict((conflict) =>
            conflict
              .column('token')
              .doUpdateSet({ key_authorization: keyAuthorization, expires_at: expiresAt }),
          )
          .execute();
      } catch (error) {
        // The order gives this challenge up (no cleanup follows a failed present). The insert may still have
        // committed with its answer lost: its delete is queued like a cleanup's (it matches nothing otherwise).
        presented.delete(token);
        deletes.queue(token, expiresAt);
        throw error;
      }
      // Cached only once stored: a failed insert leaves nothing that only this replica would answer.
      tokens?.remember(token, { hostname: name.toLowerCase(), keyAuthorization }, tokenLifetimeMs);
    },
    async cleanup(_name, token) {
      tokens?.forget(token);
      const expiresAt = presented.get(token);
      presented.delete(token);
      if (expiresAt) deletes.queue(token, expiresAt);
    },
    flush: () => deletes.flush(),
  };
}

/** Removes tokens whose cleanup never ran (a replica crashed mid-challenge) or whose queued delete was lost. */
export async function pruneExpiredHttp01Tokens(db: Db): Promise<number> {
  const result = await db.deleteFrom('http01_tokens').where('expires_at', '<', new Date()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
