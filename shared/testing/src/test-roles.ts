import { randomBytes } from 'node:crypto';
import {
  applyDatabaseRoles,
  type DatabaseService,
  databaseServices,
  migrateToLatest,
  roleName,
} from '@gatehouse/db';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { TestDatabase } from './test-database.ts';
import { testbedPostgresUrl } from './test-database.ts';

export interface TestRoles {
  /** The role name of each service (cluster-wide, so unique per call). */
  names: Record<DatabaseService, string>;
  /** DATABASE_URL of each service: the test database as its own role. */
  urls: Record<DatabaseService, string>;
  /** Each role's password (also inside its URL). */
  passwords: Record<DatabaseService, string>;
  /**
   * What compose's `migrate` service does at every start, for a database created again empty (a restore test):
   * migrates it as the superuser and grants the same roles again.
   */
  migrateAndGrant(): Promise<void>;
  /** Drops the roles; call after the database is dropped (a role with grants in a live database cannot go). */
  drop(): Promise<void>;
}

/**
 * One role per service on `database`, created by the production SQL (shared/db database-grants) as the test bed's
 * superuser, with a prefix of its own: Postgres roles are cluster-wide and test files run side by side.
 */
export async function createTestRoles(database: TestDatabase): Promise<TestRoles> {
  const prefix = `gh_${randomBytes(4).toString('hex')}_`;
  const roles = databaseServices.map((service) => ({
    service,
    role: roleName(prefix, service),
    password: randomBytes(18).toString('base64url'),
  }));
  const url = new URL(database.url);
  const grant = () =>
    applyDatabaseRoles(database.db, { database: decodeURIComponent(url.pathname.slice(1)), roles });
  await grant();
  const names = {} as Record<DatabaseService, string>;
  const urls = {} as Record<DatabaseService, string>;
  const passwords = {} as Record<DatabaseService, string>;
  for (const { service, role, password } of roles) {
    const own = new URL(database.url);
    own.username = role;
    own.password = password;
    names[service] = role;
    urls[service] = own.toString();
    passwords[service] = password;
  }
  return {
    names,
    urls,
    passwords,
    async migrateAndGrant() {
      await migrateToLatest(database.db);
      await grant();
    },
    async drop() {
      const admin = new Kysely<unknown>({
        dialect: new PostgresDialect({
          pool: new pg.Pool({ connectionString: testbedPostgresUrl(), max: 1 }),
        }),
      });
      try {
        for (const { role } of roles) await sql`drop role if exists ${sql.id(role)}`.execute(admin);
      } finally {
        await admin.destroy();
      }
    },
  };
}
