import { backoffDelayMs, sleep } from '@gatehouse/messaging';
import type { Logger } from '@gatehouse/telemetry';

/**
 * Retries `attempt` until it succeeds or `signal` aborts, with capped exponential backoff.
 * Used at start-up so a service waits for Postgres or NATS instead of crashing (compose may start
 * it first, and an operator may restart a database under it).
 */
export async function retryUntilReady<T>(
  what: string,
  attempt: () => Promise<T>,
  logger: Logger,
  { signal, maxDelayMs = 5_000 }: { signal?: AbortSignal; maxDelayMs?: number } = {},
): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw error;
      const delay = backoffDelayMs(failures, { baseMs: 250, maxMs: maxDelayMs });
      logger.warn(
        { dependency: what, err: error instanceof Error ? error.message : error, retry_in_ms: delay },
        'dependency unavailable, retrying',
      );
      await sleep(delay);
    }
  }
}
