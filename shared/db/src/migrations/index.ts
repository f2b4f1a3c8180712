import type { Migration } from 'kysely/migration';
import * as initial from './0001-initial.ts';
import * as issuance from './0002-issuance.ts';

/** Every migration in order. Names sort lexicographically; append, never rename or edit. */
export const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-issuance': issuance,
};
