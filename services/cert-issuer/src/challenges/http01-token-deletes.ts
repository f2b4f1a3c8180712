import type { Db } from '@gatehouse/db';
import type { Logger } from '@gatehouse/telemetry';
import { sql } from 'kysely';

/**
 * Deletes of `http01_tokens` rows, coalesced: a cleanup queues its row and the queue goes out as ONE statement
 * when `windowMs` has passed since the first queued row, when `maxBatch` rows are queued, or on `flush`. A
 * burst of finished challenges (four order slots ending together) is then one round trip instead of one each.
 *
 * A row is named by its token AND the expiry this process stored with it: a token presented again (a resumed
 * order re-presents the same challenge token, here or on another replica) is stored with a later expiry, so a
 * delete still queued or in flight for its earlier presentation matches nothing. `cancel` also takes it off
 * the queue when the re-presentation is this process's.
 *
 * Nothing here throws: a failed delete is kept for the next flush (up to `maxRetained` rows); whatever a crash
 * or a long outage drops expires and is removed by `pruneExpiredHttp01Tokens` (cert-issuer's housekeeping).
 */
export interface Http01TokenDeletes {
  /** Queues the delete of the row stored for `token` with `expiresAt`. */
  queue(token: string, expiresAt: Date): void;
  /** Takes `token` off the queue: it is being presented again, and its row must stay. */
  cancel(token: string): void;
  /** Sends every queued delete now and waits for every delete in flight; resolves, never rejects. */
  flush(): Promise<void>;
}

export interface Http01TokenDeletesOptions {
  /** How long the first queued delete waits for others. Default 150 ms: about one challenge's validation. */
  windowMs?: number;
  /** Queued deletes that are sent at once without waiting for the window. Default 32. */
  maxBatch?: number;
  /** Failed deletes kept for the next flush, at most; the rest are left to the prune. Default 1,024. */
  maxRetained?: number;
  logger?: Logger;
}

export function createHttp01TokenDeletes(
  db: Db,
  options: Http01TokenDeletesOptions = {},
): Http01TokenDeletes {
  const { windowMs = 150, maxBatch = 32, maxRetained = 1_024, logger } = options;
  let queued = new Map<string, Date>();
  let timer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();

  function send(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queued.size === 0) return Promise.resolve();
    const batch = queued;
    queued = new Map();
    const sent = deleteRows(batch).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    return sent;
  }

  async function deleteRows(batch: Map<string, Date>): Promise<void> {
    try {
      await db
        .deleteFrom('http01_tokens')
        .where(
          sql<boolean>`(token, expires_at) in (select * from unnest(${[...batch.keys()]}::text[], ${[...batch.values()]}::timestamptz[]))`,
        )
        .execute();
    } catch (error) {
      // Back on the queue for the next flush, unless the token was queued again meanwhile (that entry is newer).
      for (const [token, expiresAt] of batch) {
        if (queued.size >= maxRetained) break;
        if (!queued.has(token)) queued.set(token, expiresAt);
      }
      logger?.warn({ err: error, tokens: batch.size }, 'http-01 token cleanup failed, will retry');
    }
  }

  return {
    queue(token, expiresAt) {
      queued.set(token, expiresAt);
      if (queued.size >= maxBatch) void send();
      else timer ??= setTimeout(send, windowMs).unref();
    },
    cancel(token) {
      queued.delete(token);
    },
    async flush() {
      await send();
      await Promise.all(inFlight);
    },
  };
}
