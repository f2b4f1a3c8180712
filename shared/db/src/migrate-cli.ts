// `npm run migrate`: applies every pending migration to DATABASE_URL (created if missing) and exits. With
// DB_ROLE_PASSWORDS_DIR it then creates or updates one role per service (shared/db/src/database-grants.ts), each
// with the password in `<dir>/postgres-<service>`: compose's one-shot `migrate` service, run as the schema owner.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, serviceEnvShape } from '@gatehouse/config';
import { z } from 'zod';
import { createDb } from './create-db.ts';
import { applyDatabaseRoles, databaseServices, roleName } from './database-grants.ts';
import { ensureDatabaseExists, migrateToLatest } from './migrate.ts';

const config = loadConfig(
  z.object({
    DATABASE_URL: serviceEnvShape.DATABASE_URL,
    /** Directory of the per-service role passwords (`postgres-api`, …); unset: no roles are touched. */
    DB_ROLE_PASSWORDS_DIR: z.string().optional(),
    /** Prefix of the role names: `gatehouse_` gives gatehouse_api, gatehouse_cert_issuer, … */
    DB_ROLE_PREFIX: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,40}$/, 'expected lower-case letters, digits and underscores')
      .default('gatehouse_'),
  }),
);
await ensureDatabaseExists(config.DATABASE_URL);
const db = createDb({ connectionString: config.DATABASE_URL, maxConnections: 1 });
try {
  const { applied } = await migrateToLatest(db);
  console.log(applied.length === 0 ? 'schema is up to date' : `applied: ${applied.join(', ')}`);
  const dir = config.DB_ROLE_PASSWORDS_DIR;
  if (dir) {
    const roles = databaseServices.map((service) => ({
      service,
      role: roleName(config.DB_ROLE_PREFIX, service),
      password: readPassword(join(dir, `postgres-${service}`)),
    }));
    const database = decodeURIComponent(new URL(config.DATABASE_URL).pathname.slice(1));
    await applyDatabaseRoles(db, { database, roles });
    console.log(`roles granted: ${roles.map((role) => role.role).join(', ')}`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await db.destroy();
}

function readPassword(file: string): string {
  const password = readFileSync(file, 'utf8').trim();
  if (password === '') throw new Error(`${file} is empty`);
  return password;
}
