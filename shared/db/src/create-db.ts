import { Kysely, type LogEvent, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.ts';

// timestamptz → Date is pg's default; int8 stays a string so large sequence numbers are exact.

export interface CreateDbOptions {
  connectionString: string;
  /** Pool size per process. Services are small; Postgres connections are not free. */
  maxConnections?: number;
  /**
   * How long one attempt to open a connection may take (default 5 s): a Postgres that is down or does not
   * answer fails a query this fast (a refused connection fails at once).
   */
  connectTimeoutMillis?: number;
  /**
   * How long a query may queue for a connection while every pooled one is busy (default 30 s). Waiting for a
   * busy but working database is queuing, not failure: a burst of 100 API writes on a pool of 10 must not be
   * refused because the tenth in line waited longer than a connection attempt may take.
   */
  acquireTimeoutMillis?: number;
  /** Called for every query (for spans and slow-query logs); must not throw. */
  onQuery?: (event: LogEvent) => void;
  /** Called when an idle pooled connection breaks (Postgres restarted); the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

export type Db = Kysely<Database>;

export function createDb(options: CreateDbOptions): Db {
  const connectTimeoutMillis = options.connectTimeoutMillis ?? 5_000;
  // pg-pool's one `connectionTimeoutMillis` bounds both the wait in its queue and opening a connection; the
  // client's own connect timeout takes over the second, so the pool's can be the (longer) queue bound.
  class BoundedConnectClient extends pg.Client {
    constructor(config: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeoutMillis });
    }
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: Math.max(options.acquireTimeoutMillis ?? 30_000, connectTimeoutMillis),
    idleTimeoutMillis: 30_000,
    Client: BoundedConnectClient as unknown as new () => pg.ClientBase,
  });
  // Without a listener, a broken idle connection would crash the process (an 'error' event).
  pool.on('error', (error) => options.onIdleError?.(error));
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(options.onQuery ? { log: options.onQuery } : {}),
  });
}
