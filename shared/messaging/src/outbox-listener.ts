import type { Logger } from '@gatehouse/telemetry';
import pg from 'pg';
import { outboxChannel } from './outbox.ts';

export type Leadership = 'leader' | 'follower' | 'disconnected';

export interface OutboxListener {
  /**
   * Whether this relay leads: its connection holds the relay's session-level advisory lock. Tries to take the
   * lock when it does not lead yet (one round trip): `follower` when another relay holds it, `disconnected` while
   * this connection is down (it notifies once it is back).
   */
  lead(): Promise<Leadership>;
  /** Ends the connection, which releases the lock. */
  close(): Promise<void>;
}

/**
 * Seconds of silence after which Postgres probes a leader's connection, and how it gives up: a leader whose host
 * vanished (no FIN, no RST) loses the lock within about idle + interval × count = 25 s instead of the kernel's
 * two hours, so another replica takes over.
 */
const keepalive = { idle: 10, interval: 5, count: 3 };

/**
 * A dedicated connection that LISTENs for outbox commits (calling `onNotify` for each, and once after every
 * (re)connect to catch up) and can hold the relay's leadership: a session-level advisory lock on `lockName`. The
 * lock lives exactly as long as this connection, so a leader that crashes or loses Postgres releases it, and
 * while it is held no other relay publishes. The connection reconnects by itself after failures; leadership is
 * then taken again by the next `lead()`.
 */
export function listenForOutboxCommits(
  connectionString: string,
  lockName: string,
  logger: Logger,
  onNotify: () => void,
): OutboxListener {
  let client: pg.Client | undefined;
  let holdsLock = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  async function open(): Promise<void> {
    const next = new pg.Client({ connectionString, keepAlive: true });
    next.on('notification', onNotify);
    next.on('error', (error) => {
      logger.warn({ err: error }, 'outbox listener connection lost');
      scheduleReopen(next);
    });
    next.on('end', () => scheduleReopen(next));
    try {
      await next.connect();
      await next.query(
        `set tcp_keepalives_idle = ${keepalive.idle}; set tcp_keepalives_interval = ${keepalive.interval};` +
          ` set tcp_keepalives_count = ${keepalive.count}; listen ${outboxChannel}`,
      );
      if (closed) {
        await next.end().catch(() => {});
        return;
      }
      client = next;
      onNotify(); // Catch up on anything committed while we were not listening.
    } catch (error) {
      logger.warn({ err: error }, 'outbox listener cannot connect');
      scheduleReopen(next);
    }
  }

  function scheduleReopen(failed: pg.Client): void {
    if (client === failed) holdsLock = false;
    if (closed || retryTimer || (client && client !== failed)) return;
    client = undefined;
    failed.end().catch(() => {});
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void open();
    }, 1_000);
  }

  void open();
  return {
    async lead() {
      const current = client;
      if (holdsLock) return 'leader';
      if (!current) return 'disconnected';
      try {
        const { rows } = await current.query<{ locked: boolean }>(
          'select pg_try_advisory_lock(hashtext($1)) as locked',
          [lockName],
        );
        // The connection may have been replaced meanwhile: a lock taken on a dead one is no lock.
        holdsLock = rows[0]?.locked === true && current === client;
      } catch (error) {
        logger.warn({ err: error }, 'outbox relay could not ask for leadership');
        return 'disconnected';
      }
      if (holdsLock) return 'leader';
      return current === client ? 'follower' : 'disconnected';
    },
    async close() {
      closed = true;
      holdsLock = false;
      clearTimeout(retryTimer);
      await client?.end().catch(() => {});
    },
  };
}
