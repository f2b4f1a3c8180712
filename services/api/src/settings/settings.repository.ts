import { type Database, settingKeys } from '@gatehouse/db';
import type { Kysely, Transaction } from 'kysely';

type Queryable = Kysely<Database> | Transaction<Database>;

export { settingKeys };

export async function readSettings(db: Queryable): Promise<Map<string, unknown>> {
  const rows = await db
    .selectFrom('settings')
    .select(['key', 'value'])
    .where('key', 'in', Object.values(settingKeys))
    .execute();
  return new Map(rows.map((row) => [row.key, row.value]));
}

export async function writeSetting(db: Queryable, key: string, value: unknown): Promise<void> {
  // jsonb columns take JSON text (the schema's Json insert type); a bare string becomes a JSON string.
  const json = JSON.stringify(value);
  await db
    .insertInto('settings')
    .values({ key, value: json, updated_at: new Date() })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value: json, updated_at: new Date() }))
    .execute();
}

export async function deleteSetting(db: Queryable, key: string): Promise<void> {
  await db.deleteFrom('settings').where('key', '=', key).execute();
}
