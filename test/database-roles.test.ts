// Least privilege in Postgres: one role per service, granted from shared/db/src/database-grants.ts. Proves the
// rendered SQL grants exactly the table, refuses what a service must not do, and that the real services do
// their work (an app pushed end to end through Pebble) connected as their own roles with DB_MIGRATE=false.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyDatabaseRoles,
  createDb,
  type DatabaseService,
  type Db,
  databaseGrants,
  databaseServices,
  migrations,
  renderRolesSql,
  roleName,
} from '@gatehouse/db';
import { repoRoot, startServiceProcess } from '@gatehouse/service-harness';
import {
  createTestDatabase,
  createTestRoles,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestRoles,
  testbedPostgresUrl,
  waitFor,
} from '@gatehouse/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startStack, type TestStack } from './stack.ts';

const privileges = { s: 'SELECT', i: 'INSERT', u: 'UPDATE', d: 'DELETE' } as const;

/** The Postgres error code of `promise`'s rejection (42501: insufficient privilege). */
async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  return undefined;
}

describe('database roles', { timeout: 60_000 }, () => {
  let database: TestDatabase;
  let roles: TestRoles;
  const pools = new Map<DatabaseService, Db>();
  const as = (service: DatabaseService): Db => {
    let db = pools.get(service);
    if (!db) {
      db = createDb({ connectionString: roles.urls[service], maxConnections: 1 });
      pools.set(service, db);
    }
    return db;
  };

  beforeAll(async () => {
    database = await createTestDatabase('roles');
    roles = await createTestRoles(database);
  });

  afterAll(async () => {
    await Promise.all([...pools.values()].map((db) => db.destroy()));
    await database?.drop();
    await roles?.drop();
  });

  it('database roles - each role has exactly the table privileges of its row, and applying the SQL again changes nothing', async () => {
    const tables = (
      await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public'
        and tablename not like 'kysely_%'`.execute(database.db)
    ).rows.map((row) => row.name);
    expect(tables.length).toBeGreaterThan(15);
    const actual = async () => {
      const rows = await sql<{ role: string; table: string; privilege: string; granted: boolean }>`
        select r.role, t.table, p.privilege, has_table_privilege(r.role, t.table, p.privilege) as granted
        from unnest(${Object.values(roles.names)}::text[]) as r(role)
        cross join unnest(${tables}::text[]) as t("table")
        cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as p(privilege)`.execute(
        database.db,
      );
      return rows.rows.filter((row) => row.granted).map((row) => `${row.role} ${row.table} ${row.privilege}`);
    };
    const expected: string[] = [];
    for (const service of databaseServices) {
      for (const [table, grant] of Object.entries(databaseGrants[service])) {
        // A column-level grant does not show as a table privilege.
        if (typeof grant !== 'string') continue;
        for (const letter of grant) {
          expected.push(`${roles.names[service]} ${table} ${privileges[letter as keyof typeof privileges]}`);
        }
      }
    }
    expect((await actual()).sort()).toEqual(expected.sort());

    // Idempotent: the migrate step runs it at every deploy, with the same roles and new passwords.
    const url = new URL(database.url);
    await applyDatabaseRoles(database.db, {
      database: url.pathname.slice(1),
      roles: databaseServices.map((service) => ({ service, role: roles.names[service] })),
    });
    expect((await actual()).sort()).toEqual(expected.sort());
  });

  it('database roles - a role that does not migrate sees the schema is current, and may not change it', async () => {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
      as('deployer'),
    );
    expect(rows.map((row) => row.name)).toEqual(Object.keys(migrations));
    for (const service of databaseServices) {
      expect(await errorCode(sql`create table gh_intruder (id int)`.execute(as(service))), service).toBe(
        '42501',
      );
      expect(await errorCode(sql`drop table apps`.execute(as(service))), service).toBe('42501');
      expect(await errorCode(sql`truncate outbox`.execute(as(service))), service).toBe('42501');
      expect(
        await errorCode(sql`alter table certificates add column gh_x text`.execute(as(service))),
        service,
      ).toBe('42501');
    }
  });

  it('database roles - the deployer cannot read DNS credentials, certificates or ACME accounts', async () => {
    const deployer = as('deployer');
    expect(await errorCode(sql`select * from dns_providers`.execute(deployer))).toBe('42501');
    expect(await errorCode(sql`select private_key_encrypted from certificates`.execute(deployer))).toBe(
      '42501',
    );
    expect(await errorCode(sql`select id from certificates`.execute(deployer))).toBe('42501');
    expect(await errorCode(sql`select * from acme_accounts`.execute(deployer))).toBe('42501');
    expect(await errorCode(sql`update apps set port = 1`.execute(deployer))).toBe('42501');
    // What it does need works.
    await sql`select id, env from apps`.execute(deployer);
    await sql`select id from deployments`.execute(deployer);
  });

  it('database roles - TCP ports (migration 0014): the api writes them, the deployer and proxy-config only read them, the rest not at all', async () => {
    const query = sql`select public_port, app_id, target_port, tls from app_tcp_ports`;
    for (const service of ['api', 'deployer', 'proxy-config'] as const) await query.execute(as(service));
    await sql`delete from app_tcp_ports where public_port = 0`.execute(as('api'));
    for (const service of ['deployer', 'proxy-config'] as const) {
      expect(
        await errorCode(sql`delete from app_tcp_ports where public_port = 0`.execute(as(service))),
        service,
      ).toBe('42501');
    }
    for (const service of ['cert-issuer', 'renewal-scheduler', 'notifier'] as const) {
      expect(await errorCode(query.execute(as(service))), service).toBe('42501');
    }
  });

  it('database roles - the notifier reads certificate facts but not their keys, and cannot change certificates', async () => {
    const notifier = as('notifier');
    await sql`select id, names, source, status, chain_pem, not_after from certificates`.execute(notifier);
    expect(await errorCode(sql`select private_key_encrypted from certificates`.execute(notifier))).toBe(
      '42501',
    );
    expect(await errorCode(sql`select fallback_key_encrypted from certificates`.execute(notifier))).toBe(
      '42501',
    );
    expect(await errorCode(sql`select * from certificates`.execute(notifier))).toBe('42501');
    expect(await errorCode(sql`update certificates set status = 'failed'`.execute(notifier))).toBe('42501');
    expect(await errorCode(sql`select * from dns_providers`.execute(notifier))).toBe('42501');
    expect(await errorCode(sql`select * from apps`.execute(notifier))).toBe('42501');
  });

  it('database roles - only the api changes apps, domains and DNS providers; proxy-config and the scheduler only read what they serve', async () => {
    for (const service of [
      'deployer',
      'cert-issuer',
      'renewal-scheduler',
      'proxy-config',
      'notifier',
    ] as const) {
      expect(await errorCode(sql`delete from apps`.execute(as(service))), service).toBe('42501');
      expect(await errorCode(sql`delete from dns_providers`.execute(as(service))), service).toBe('42501');
    }
    expect(await errorCode(sql`update certificates set status = 'failed'`.execute(as('proxy-config')))).toBe(
      '42501',
    );
    expect(await errorCode(sql`delete from certificates`.execute(as('renewal-scheduler')))).toBe('42501');
    expect(await errorCode(sql`select * from dns_providers`.execute(as('renewal-scheduler')))).toBe('42501');
    expect(await errorCode(sql`select * from http01_tokens`.execute(as('api')))).toBe('42501');
  });

  it('database roles - the rendered SQL refuses a role name that could break out of its quotes', () => {
    expect(() =>
      renderRolesSql({ database: 'gatehouse', roles: [{ service: 'api', role: "x'; drop table apps; --" }] }),
    ).toThrow(/must match/);
  });
});

describe('database roles migrate step', { timeout: 120_000 }, () => {
  it('database roles - a service with DB_MIGRATE=false waits without migrating; npm run migrate with DB_ROLE_PASSWORDS_DIR migrates as the owner, creates the roles with the secret files, twice without harm, and the service starts', async () => {
    const database = await createTestDatabase('roles_migrate');
    const nats = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), 'gh-roles-'));
    const prefix = `gh_${randomBytes(4).toString('hex')}_`;
    const passwords = Object.fromEntries(
      databaseServices.map((service) => [service, randomBytes(18).toString('hex')]),
    ) as Record<DatabaseService, string>;
    for (const service of databaseServices)
      writeFileSync(join(dir, `postgres-${service}`), `${passwords[service]}\n`);
    let notifierDb: Db | undefined;
    const notifier = { process: undefined as ReturnType<typeof startServiceProcess> | undefined };
    try {
      await database.recreate(); // empty and unmigrated, as a new compose volume
      const healthPort = await freePort();
      notifier.process = startServiceProcess('notifier', {
        DATABASE_URL: database.url,
        DB_MIGRATE: 'false',
        NATS_URL: nats.url,
        HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      });
      await waitFor('the notifier waiting for the schema', () =>
        notifier.process!.output().includes('the schema lacks migrations'),
      );
      const tables = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_tables where schemaname = 'public'`.execute(database.db);
      expect(tables.rows[0]?.n, 'the service created no table').toBe(0);

      const env = {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: database.url,
        DB_ROLE_PASSWORDS_DIR: dir,
        DB_ROLE_PREFIX: prefix,
      };
      const first = execFileSync(process.execPath, [join(repoRoot, 'shared/db/src/migrate-cli.ts')], {
        env,
        encoding: 'utf8',
      });
      expect(first).toContain(`applied: ${Object.keys(migrations).join(', ')}`);
      expect(first).toContain(`roles granted: ${prefix}api`);
      const second = execFileSync(process.execPath, [join(repoRoot, 'shared/db/src/migrate-cli.ts')], {
        env,
        encoding: 'utf8',
      });
      expect(second).toContain('schema is up to date');

      await waitFor(
        'the notifier ready once migrated',
        async () =>
          (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200,
        { timeoutMs: 30_000 },
      );

      // The role logs in with its secret file's password and has the notifier's rights only.
      const url = new URL(database.url);
      url.username = roleName(prefix, 'notifier');
      url.password = passwords.notifier;
      notifierDb = createDb({ connectionString: url.toString(), maxConnections: 1 });
      await sql`select id, names from certificates`.execute(notifierDb);
      expect(await errorCode(sql`select private_key_encrypted from certificates`.execute(notifierDb))).toBe(
        '42501',
      );
      url.password = 'wrong';
      const wrong = createDb({ connectionString: url.toString(), maxConnections: 1 });
      expect(await errorCode(sql`select 1`.execute(wrong))).toBe('28P01');
      await wrong.destroy();
    } finally {
      await notifierDb?.destroy();
      await notifier.process?.stop();
      await nats.stop();
      await database.drop();
      const admin = createDb({ connectionString: testbedPostgresUrl(), maxConnections: 1 });
      for (const service of databaseServices) {
        await sql`drop role if exists ${sql.id(roleName(prefix, service))}`.execute(admin);
      }
      await admin.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('database roles end to end', { timeout: 300_000 }, () => {
  const suffix = Math.random().toString(36).slice(2, 8);
  const appName = `roles-${suffix}`;
  let stack: TestStack;

  beforeAll(async () => {
    // Every service, each with its own Postgres role and NATS user, none of them migrating.
    stack = await startStack({
      label: `test-roles-${suffix}`,
      natsAuth: true,
      dbRoles: true,
      env: { 'renewal-scheduler': {}, notifier: {} },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('database roles - every service runs as its own role: an app gets its Pebble certificate and routes, the api’s reads and writes answer, the app is removed, without one permission error', async () => {
    try {
      const appPort = await freePort();
      const response = await fetch(`${stack.apiUrl}/v1/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: appName,
          image: process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1',
          port: appPort,
          domains: [`https://${appName}.test`],
          command: [
            'sh',
            '-c',
            `mkdir -p /www && echo hello > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${appPort}`,
          ],
        }),
      });
      expect(response.status, await response.clone().text()).toBe(201);
      const file = join(stack.root, 'dynamic', `app-${appName}.yml`);
      await waitFor(
        'the certificate listed in the app file',
        () => {
          if (!existsSync(file)) return false;
          const yaml = parse(readFileSync(file, 'utf8')) as {
            tls?: { certificates?: Array<{ certFile: string; keyFile: string }> };
          };
          const entries = yaml.tls?.certificates ?? [];
          return entries.length > 0 && entries.every((e) => existsSync(e.certFile) && existsSync(e.keyFile));
        },
        { timeoutMs: 180_000, intervalMs: 200 },
      );
      const container = await waitFor(
        'the container answering',
        async () => {
          const answer = await fetch(`http://127.0.0.1:${appPort}/`, {
            signal: AbortSignal.timeout(1_000),
          }).catch(() => undefined);
          return answer?.status === 200 && (await answer.text()).trim();
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(container).toBe('hello');
      // The api reads what it reports, as its own role.
      const certificates = await fetch(`${stack.apiUrl}/v1/certificates`, {
        headers: { authorization: `Bearer ${stack.apiToken}` },
      });
      expect(certificates.status).toBe(200);
      expect(JSON.stringify(await certificates.json())).toContain(`${appName}.test`);
      // The api's other reads and writes, as its role: every one answers as it would for the superuser.
      const call = async (method: string, path: string, body?: unknown) => {
        const answer = await fetch(`${stack.apiUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${stack.apiToken}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: answer.status, text: await answer.text() };
      };
      const list = JSON.parse((await call('GET', `/v1/certificates?name=${appName}.test`)).text) as {
        certificates: Array<{ id: string }>;
      };
      const id = list.certificates[0]!.id;
      for (const path of [
        `/v1/certificates/${id}`,
        `/v1/certificates/${id}/chain`,
        `/v1/apps/${appName}`,
        '/v1/apps',
        '/v1/notifications',
        '/v1/rate-limits',
        '/v1/settings',
        '/v1/dns-providers',
      ]) {
        const answer = await call('GET', path);
        expect(answer.status, `${path}: ${answer.text}`).toBe(200);
      }
      const emails = await call('PUT', '/v1/settings/admin-emails', { emails: ['ops@example.test'] });
      expect(emails.status, emails.text).toBe(200);
      const provider = await call('POST', '/v1/dns-providers', {
        zone: `${appName}.test`,
        kind: 'cloudflare',
        config: { apiToken: 'a'.repeat(40) },
      });
      expect(provider.status, provider.text).toBe(201);
      const providerId = (JSON.parse(provider.text) as { id: string }).id;
      expect((await call('DELETE', `/v1/dns-providers/${providerId}`)).status).toBe(204);
      const renew = await call('POST', `/v1/certificates/${id}/renew`);
      expect([202, 429], renew.text).toContain(renew.status);
      const patched = await call('PATCH', `/v1/apps/${appName}`, { env: { MODE: 'roles' } });
      expect(patched.status, patched.text).toBe(200);
      const deleted = await call('DELETE', `/v1/apps/${appName}`);
      expect(deleted.status, deleted.text).toBe(202);
      await waitFor('the app gone', async () => (await call('GET', `/v1/apps/${appName}`)).status === 404, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });

      // Every service started as its role, and none hit a privilege it lacks on any path it ran.
      expect(stack.processes.map((p) => p.name).sort()).toEqual([...databaseServices].sort());
      for (const { name, process } of stack.processes) {
        expect(process.output(), name).not.toMatch(/permission denied|42501/);
      }
    } catch (error) {
      for (const { name, process } of stack.processes)
        console.error(`--- ${name} output ---\n${process.output()}`);
      throw error;
    }
  });
});
