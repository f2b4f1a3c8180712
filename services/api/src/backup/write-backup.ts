import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import { sql } from 'kysely';
import { appliedMigrations, primaryKeyColumns } from './backup-catalog.ts';
import {
  type BackupHeader,
  backupContext,
  backupFormat,
  backupTables,
  backupVersion,
} from './backup-format.ts';

const pageSize = 500;

/**
 * Writes the archive of this installation (see backup-format.ts) through `write`, which should wait while the
 * reader is slow. Rows are read a page at a time in primary-key order inside one REPEATABLE READ, READ ONLY
 * transaction, so the archive is one consistent moment however long it streams. Returns the number of rows.
 */
export async function writeBackup(
  db: Db,
  box: SecretBox,
  write: (line: string) => Promise<void>,
  now = new Date(),
): Promise<number> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const header: BackupHeader = {
        format: backupFormat,
        version: backupVersion,
        createdAt: now.toISOString(),
        migrations: await appliedMigrations(trx),
      };
      const context = backupContext(header);
      await write(`${JSON.stringify(header)}\n`);
      let rows = 0;
      for (const table of backupTables) {
        const keys = await primaryKeyColumns(trx, table);
        const order = sql.join(keys.map((key) => sql.ref(key)));
        let after: unknown[] | undefined;
        for (;;) {
          // Keyset paging: each page starts after the last key of the previous one, whatever the table size.
          const page = await sql<Record<string, unknown>>`
            select * from ${sql.table(table)}
            ${after ? sql`where (${order}) > (${sql.join(after)})` : sql``}
            order by ${order} limit ${pageSize}`.execute(trx);
          for (const row of page.rows) {
            rows += 1;
            await write(`${box.seal(JSON.stringify({ table, row }), context)}\n`);
          }
          if (page.rows.length < pageSize) break;
          const last = page.rows.at(-1)!;
          after = keys.map((key) => last[key]);
        }
      }
      await write(`${box.seal(JSON.stringify({ trailer: true, rows }), context)}\n`);
      return rows;
    });
}
