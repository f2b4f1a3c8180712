import type { Database, Db } from '@gatehouse/db';
import { type SecretBox, SecretBoxError } from '@gatehouse/pki';
import { sql, type Transaction } from 'kysely';
import { ApiError } from '../errors.ts';
import { appliedMigrations, columnTypes } from './backup-catalog.ts';
import {
  type BackupTable,
  backupContext,
  backupHeaderSchema,
  backupRowSchema,
  backupTables,
  backupTrailerSchema,
  installationTables,
} from './backup-format.ts';

export interface RestoreReport {
  createdAt: string;
  /** Rows restored per table. */
  rows: Partial<Record<BackupTable, number>>;
}

/**
 * Imports an archive into an empty installation in one transaction: either every row is in, or nothing is (a
 * refused archive, a wrong master key or a cut-off upload leave the installation as it was). Refused with
 * `conflict` when the installation already has apps, certificates, ACME accounts or DNS providers, or when its
 * schema is not the archive's. Settings from the archive replace the ones this installation made at start (its
 * default certificate). `announce` runs inside the transaction after the rows are in (the api emits
 * `apps.created` for every app, so the deployer and proxy-config bring them back).
 */
export async function restoreBackup(
  db: Db,
  box: SecretBox,
  lines: AsyncIterable<string>,
  announce: (trx: Transaction<Database>) => Promise<void>,
): Promise<RestoreReport> {
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw invalid('the archive is empty');
  const header = backupHeaderSchema.safeParse(parseJsonOrUndefined(first.value));
  if (!header.success) {
    throw invalid('the first line is not a Gatehouse backup header (format gatehouse-backup, version 1)');
  }
  const context = backupContext(header.data);

  return db.transaction().execute(async (trx) => {
    // One restore at a time, and nothing else may create the rows we are about to insert meanwhile.
    await sql`lock table apps, certificates, acme_accounts, dns_providers in exclusive mode`.execute(trx);
    await refuseNonEmpty(trx);
    // An empty installation may already have made a local CA (cert-issuer makes it on first use); it has signed
    // nothing stored here (there are no certificates), so the archive's CA, which signed the restored leaves and
    // is in the operators' trust stores, replaces it.
    await trx.deleteFrom('local_ca_certificates').execute();
    const migrations = await appliedMigrations(trx);
    if (migrations.join(',') !== header.data.migrations.join(',')) {
      throw new ApiError(
        'conflict',
        `the archive was made at schema ${header.data.migrations.at(-1) ?? '(none)'} and this installation is at ` +
          `${migrations.at(-1) ?? '(none)'}; restore it with the Gatehouse version that made it`,
      );
    }
    const types = new Map(
      await Promise.all(backupTables.map(async (t) => [t, await columnTypes(trx, t)] as const)),
    );
    const counts: Partial<Record<BackupTable, number>> = {};
    let restored = 0;
    let lineNumber = 1;
    for (;;) {
      const next = await iterator.next();
      lineNumber += 1;
      if (next.done) throw invalid('the archive ends without its trailer line: it was cut off');
      const payload = openLine(box, next.value, context, lineNumber);
      const trailer = backupTrailerSchema.safeParse(payload);
      if (trailer.success) {
        if (trailer.data.rows !== restored) {
          throw invalid(`the trailer counts ${trailer.data.rows} rows but the archive has ${restored}`);
        }
        if (!(await iterator.next()).done) throw invalid('the archive goes on after its trailer line');
        break;
      }
      const entry = backupRowSchema.safeParse(payload);
      if (!entry.success) throw invalid(`line ${lineNumber} is neither a row nor the trailer`);
      const { table, row } = entry.data;
      await insertRow(trx, table, row, types.get(table)!, lineNumber);
      counts[table] = (counts[table] ?? 0) + 1;
      restored += 1;
    }
    await announce(trx);
    return { createdAt: header.data.createdAt, rows: counts };
  });
}

async function refuseNonEmpty(trx: Transaction<Database>): Promise<void> {
  const present: string[] = [];
  for (const table of installationTables) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(
      trx,
    );
    if ((rows[0]?.n ?? 0) > 0) present.push(`${rows[0]!.n} ${table.replace('_', ' ')}`);
  }
  if (present.length > 0) {
    throw new ApiError(
      'conflict',
      `a restore goes only into an empty installation, and this one has ${present.join(', ')}; ` +
        'start from a new database with the same GATEHOUSE_MASTER_KEY',
    );
  }
}

/** Opens one sealed line; a line that does not open means another master key or a damaged archive. */
function openLine(box: SecretBox, line: string, context: string, lineNumber: number): unknown {
  try {
    return JSON.parse(box.openText(line.trim(), context));
  } catch (error) {
    if (error instanceof SecretBoxError || error instanceof SyntaxError) {
      throw invalid(
        `line ${lineNumber} does not open with this installation's GATEHOUSE_MASTER_KEY: the archive was made ` +
          'with another key, or it is damaged',
      );
    }
    throw error;
  }
}

/**
 * Inserts one row as it was. Only columns this schema has are accepted (the migration check makes them the same);
 * JSON columns are passed as JSON text, since the driver would turn a JS array into a Postgres array.
 * The default certificate and other settings a fresh installation wrote at start give way to the archive's.
 */
async function insertRow(
  trx: Transaction<Database>,
  table: BackupTable,
  row: Record<string, unknown>,
  types: Map<string, string>,
  lineNumber: number,
): Promise<void> {
  const columns = Object.keys(row);
  const unknown = columns.filter((column) => !types.has(column));
  if (unknown.length > 0) throw invalid(`line ${lineNumber}: ${table} has no column ${unknown.join(', ')}`);
  const values = columns.map((column) => {
    const value = row[column];
    const type = types.get(column);
    return (type === 'jsonb' || type === 'json') && value !== null ? JSON.stringify(value) : value;
  });
  const conflict = table === 'settings' ? sql`on conflict (key) do update set value = excluded.value` : sql``;
  await sql`insert into ${sql.table(table)} (${sql.join(columns.map((column) => sql.ref(column)))})
    values (${sql.join(values)}) ${conflict}`.execute(trx);
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function invalid(message: string): ApiError {
  return new ApiError('validation', `${message}; nothing was restored`);
}
