import { randomBytes } from 'node:crypto';
import { createDb, type Db, migrateToLatest } from '@gatehouse/db';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

/** Where the test bed's Postgres is; `scripts/testbed env` exports it. */
export function testbedPostgresUrl(): string {
  return process.env.TESTBED_PG_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
}

export interface TestDatabase {
  url: string;
  db: Db;
  /**
   * Drops the database and creates it again empty and unmigrated under the same name (what an operator who lost
   * the database has); `db` is a new pool afterwards. The services migrate it when they start.
   */
  recreate(): Promise<void>;
  /** Drops the database (terminating stray connections). */
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own, so test files never see each other's rows. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `gh_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = adminConnection();
  try {
    await sql`create database ${sql.id(name)}`.execute(admin);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(testbedPostgresUrl(), name);
  let db = createDb({ connectionString: url, maxConnections: 10 });
  await migrateToLatest(db);
  async function dropDatabase(): Promise<void> {
    await db.destroy();
    const cleanup = adminConnection();
    try {
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(cleanup);
    } finally {
      await cleanup.destroy();
    }
  }
  return {
    url,
    get db() {
      return db;
    },
    async recreate() {
      await dropDatabase();
      const admin = adminConnection();
      try {
        await sql`create database ${sql.id(name)}`.execute(admin);
      } finally {
        await admin.destroy();
      }
      db = createDb({ connectionString: url, maxConnections: 10 });
    },
    drop: dropDatabase,
  };
}

function adminConnection(): Kysely<unknown> {
  return new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: testbedPostgresUrl(), max: 1 }) }),
  });
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
