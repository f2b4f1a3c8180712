export * from './column-values.ts';
export { type CreateDbOptions, createDb, type Db } from './create-db.ts';
export type * from './database.ts';
export {
  applyDatabaseRoles,
  type DatabaseRole,
  type DatabaseService,
  databaseGrants,
  databaseServices,
  type RolesSqlOptions,
  renderRolesSql,
  roleName,
  type TableGrant,
} from './database-grants.ts';
export { isDatabaseUnavailable } from './database-unavailable.ts';
export { lockNames } from './lock-names.ts';
export {
  assertSchemaCurrent,
  ensureDatabaseExists,
  type MigrationReport,
  migrateToLatest,
} from './migrate.ts';
export { migrations } from './migrations/index.ts';
export { settingKeys } from './setting-keys.ts';
