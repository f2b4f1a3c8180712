import { randomBytes } from 'node:crypto';
import { testbedPostgresUrl } from '@gatehouse/testing';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb, ensureDatabaseExists, migrateToLatest, migrations } from '../src/index.ts';

describe('migrations', () => {
  const name = `gh_migrate_${randomBytes(4).toString('hex')}`;
  const url = new URL(testbedPostgresUrl());
  url.pathname = `/${name}`;
  afterAll(async () => {
    const admin = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: testbedPostgresUrl(), max: 1 }) }),
    });
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin);
    await admin.destroy();
  });

  it('migrations - replicas starting together on an empty database apply each migration once', async () => {
    expect(await ensureDatabaseExists(url.toString())).toBe(true);
    expect(await ensureDatabaseExists(url.toString())).toBe(false);
    const replicas = Array.from({ length: 4 }, () =>
      createDb({ connectionString: url.toString(), maxConnections: 2 }),
    );
    try {
      const reports = await Promise.all(replicas.map((db) => migrateToLatest(db)));
      const applied = reports.flatMap((report) => report.applied);
      expect(applied.sort()).toEqual(Object.keys(migrations).sort());
      const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(replicas[0]!);
      expect(rows.map((row) => row.name)).toEqual(Object.keys(migrations));
      const tables = await replicas[0]!.introspection.getTables();
      expect(tables.map((table) => table.name)).toEqual(
        expect.arrayContaining([
          'apps',
          'domains',
          'certificates',
          'orders',
          'order_attempts',
          'acme_accounts',
          'http01_tokens',
          'dns_providers',
          'notifications',
          'settings',
          'outbox',
          'processed_events',
          'dead_letters',
          'leases',
        ]),
      );
      // Secrets have only encrypted columns (HTTP-01 key authorizations are public by design).
      const secretColumns = tables
        .flatMap((table) => table.columns.map((column) => column.name))
        .filter((column) => /key|secret|password/.test(column))
        .filter(
          (column) =>
            !['key', 'key_type', 'names_key', 'dedupe_key', 'eab_key_id', 'key_authorization'].includes(
              column,
            ),
        );
      expect(secretColumns.length).toBeGreaterThan(0);
      for (const column of secretColumns) expect(column).toMatch(/_encrypted$/);
    } finally {
      await Promise.all(replicas.map((db) => db.destroy()));
    }
  });
});
