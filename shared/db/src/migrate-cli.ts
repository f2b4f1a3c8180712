// `npm run migrate`: applies every pending migration to DATABASE_URL (created if missing) and exits.
import { loadConfig, serviceEnvShape } from '@gatehouse/config';
import { z } from 'zod';
import { createDb } from './create-db.ts';
import { ensureDatabaseExists, migrateToLatest } from './migrate.ts';

const { DATABASE_URL } = loadConfig(z.object({ DATABASE_URL: serviceEnvShape.DATABASE_URL }));
await ensureDatabaseExists(DATABASE_URL);
const db = createDb({ connectionString: DATABASE_URL, maxConnections: 1 });
try {
  const { applied } = await migrateToLatest(db);
  console.log(applied.length === 0 ? 'schema is up to date' : `applied: ${applied.join(', ')}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
