import type { Database } from '@gatehouse/db';
import { type Kysely, sql } from 'kysely';

type Queryable = Kysely<Database>;

/** Names of the applied migrations, in order (Kysely's bookkeeping table). */
export async function appliedMigrations(db: Queryable): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((row) => row.name);
}

/** The primary-key columns of `table`, in key order (for keyset paging). */
export async function primaryKeyColumns(db: Queryable, table: string): Promise<string[]> {
  const { rows } = await sql<{ column: string }>`
    select a.attname as column
    from pg_index i
    join lateral unnest(i.indkey) with ordinality as k(attnum, position) on true
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where i.indrelid = ${table}::regclass and i.indisprimary
    order by k.position`.execute(db);
  if (rows.length === 0) throw new Error(`table ${table} has no primary key`);
  return rows.map((row) => row.column);
}

/** Column name → Postgres type name (`jsonb`, `_text`, `timestamptz`, …) of `table`. */
export async function columnTypes(db: Queryable, table: string): Promise<Map<string, string>> {
  const { rows } = await sql<{ column: string; type: string }>`
    select column_name as column, udt_name as type from information_schema.columns
    where table_schema = current_schema() and table_name = ${table}`.execute(db);
  return new Map(rows.map((row) => [row.column, row.type]));
}
