import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Db } from './create-db.ts';
import { migrations } from './migrations/index.ts';

export interface MigrationReport {
  applied: string[];
}

/**
 * Brings the schema to the latest migration. Safe to call from every replica at start: Kysely's
 * Postgres adapter takes an advisory lock, so replicas starting together apply each migration once.
 */
export async function migrateToLatest(db: Db): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(
      `migration ${failed?.migrationName ?? ''} failed: ${describe(error)}`.replace('  ', ' '),
      {
        cause: error,
      },
    );
  }
  return { applied: (results ?? []).map((result) => result.migrationName) };
}

/**
 * For a service that does not migrate (`DB_MIGRATE=false`): resolves once every migration this build knows is
 * applied, throws naming the missing ones otherwise (the caller retries: the one-shot migrate step may still run).
 */
export async function assertSchemaCurrent(db: Db): Promise<void> {
  // A new database has no migration table yet: every migration is missing, not an error of its own.
  const { rows: exists } = await sql<{ table: string | null }>`
    select to_regclass('kysely_migration')::text as table`.execute(db);
  const { rows } = exists[0]?.table
    ? await sql<{ name: string }>`select name from kysely_migration`.execute(db)
    : { rows: [] };
  const applied = new Set(rows.map((row) => row.name));
  const missing = Object.keys(migrations).filter((name) => !applied.has(name));
  if (missing.length > 0) {
    throw new Error(`the schema lacks migrations ${missing.join(', ')}; run npm run migrate as the owner`);
  }
}

/**
 * Creates the database named in `connectionString` when it does not exist yet, so `npm start` works
 * against a fresh local Postgres. Connects to the `postgres` maintenance database to do so.
 */
export async function ensureDatabaseExists(connectionString: string): Promise<boolean> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (name === '' || name === 'postgres') return false;
  url.pathname = '/postgres';
  const admin = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 1 }) }),
  });
  try {
    const { rows } = await sql<{ exists: boolean }>`
      select exists(select 1 from pg_database where datname = ${name}) as exists`.execute(admin);
    if (rows[0]?.exists) return false;
    try {
      await sql`create database ${sql.id(name)}`.execute(admin);
    } catch (error) {
      // Another replica created it between our check and our create.
      if ((error as { code?: string }).code !== '42P04') throw error;
    }
    return true;
  } finally {
    await admin.destroy();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
