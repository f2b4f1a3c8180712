export { type CreateDbOptions, createDb, type Db } from './create-db.ts';
export type * from './database.ts';
export { lockNames } from './lock-names.ts';
export { ensureDatabaseExists, type MigrationReport, migrateToLatest } from './migrate.ts';
export { migrations } from './migrations/index.ts';
export { settingKeys } from './setting-keys.ts';
