import { Kysely, type LogEvent, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.ts';

// timestamptz → Date is pg's default; int8 stays a string so large sequence numbers are exact.

export interface CreateDbOptions {
  connectionString: string;
  /** Pool size per process. Services are small; Postgres connections are not free. */
  maxConnections?: number;
  /** Called for every query (for spans and slow-query logs); must not throw. */
  onQuery?: (event: LogEvent) => void;
  /** Called when an idle pooled connection breaks (Postgres restarted); the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

export type Db = Kysely<Database>;

export function createDb(options: CreateDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // Without a listener, a broken idle connection would crash the process (an 'error' event).
  pool.on('error', (error) => options.onIdleError?.(error));
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(options.onQuery ? { log: options.onQuery } : {}),
  });
}
