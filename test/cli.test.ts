import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { masterKey, repoRoot, type ServiceProcess, startReadyService } from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  makeCertificateChain,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(repoRoot, 'services', 'cli', 'bin', 'gatehouse.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `gatehouse` binary (its launcher, as `npx gatehouse` does) with exactly this environment. */
function gatehouse(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('cli against a running api', () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let api: ServiceProcess;
  let env: Record<string, string>;
  const token = randomBytes(32).toString('base64');
  const failing = randomUUID();
  const expiring = randomUUID();
  const healthy = randomUUID();
  const spent = randomUUID();
  const directory = 'https://ca.cli.test/dir';
  let uploaded: string;

  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('cli'), startNatsServer()]);
    const port = await freePort();
    api = await startReadyService('api', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      API_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_API_TOKEN: token,
      GATEHOUSE_MASTER_KEY: masterKey,
    });
    env = { GATEHOUSE_URL: `http://127.0.0.1:${port}`, GATEHOUSE_API_TOKEN: token };
    const now = Date.now();
    const day = 86_400_000;
    await database.db
      .insertInto('certificates')
      .values([
        {
          id: failing,
          names: ['broken.cli.test'],
          names_key: 'broken.cli.test',
          status: 'failed',
          source: 'acme',
          failure_count: 1,
          next_retry_at: new Date(now + 300_000),
          last_error_kind: 'preflight',
          last_error_message: 'preflight failed, no order placed: broken.cli.test has no A/AAAA record',
          last_error_at: new Date(now),
          preflight: JSON.stringify([
            {
              name: 'broken.cli.test',
              check: 'dns',
              ok: false,
              detail: 'broken.cli.test has no A/AAAA record',
            },
          ]),
          preflight_at: new Date(now),
        },
        {
          id: expiring,
          names: ['soon.cli.test'],
          names_key: 'soon.cli.test',
          status: 'valid',
          source: 'acme',
          issuer: directory,
          not_before: new Date(now - 80 * day),
          not_after: new Date(now + 3 * day),
          renew_at: new Date(now + day),
          renew_reason: 'lifetime',
        },
        {
          id: healthy,
          names: ['fine.cli.test'],
          names_key: 'fine.cli.test',
          status: 'valid',
          source: 'acme',
          issuer: directory,
          not_before: new Date(now - day),
          not_after: new Date(now + 60 * day),
          renew_at: new Date(now + 40 * day),
          renew_reason: 'lifetime',
        },
        {
          id: spent,
          names: ['spent.cli.test'],
          names_key: 'spent.cli.test',
          status: 'valid',
          source: 'acme',
          issuer: directory,
          not_before: new Date(now - day),
          not_after: new Date(now + 50 * day),
        },
      ])
      .execute();
    // The duplicate-certificate budget of spent.cli.test is used up: a renewal is refused with a time.
    await database.db
      .insertInto('rate_limit_events')
      .values(
        Array.from({ length: 5 }, () => ({
          limit_name: 'duplicate-certificates',
          scope: `${directory}|spent.cli.test`,
          occurred_at: new Date(now - day),
        })),
      )
      .execute();
    const chain = makeCertificateChain(['custom.cli.test', 'www.custom.cli.test'], { days: 20 });
    const upload = await fetch(`${env.GATEHOUSE_URL}/v1/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ certificate: chain.leaf, chain: chain.intermediate, privateKey: chain.key }),
    });
    expect(upload.status).toBe(201);
    uploaded = ((await upload.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await api?.stop();
    await Promise.all([database?.drop(), nats?.stop()]);
  });

  it('cli - certs ls lists every certificate by expiry, as a table and as JSON', async () => {
    const text = await gatehouse(['certs', 'ls'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ID\s+NAMES\s+STATUS/);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    // Soonest expiry first; never issued last.
    expect(lines[1]).toContain('soon.cli.test');
    expect(lines[5]).toContain('broken.cli.test');
    const json = await gatehouse(['certs', 'ls', '--status', 'failed', '--json'], env);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(body.certificates.map((c: { id: string }) => c.id)).toEqual([failing]);
  });

  it('cli - status of a failing certificate shows the chain: renewal, preflight, hint', async () => {
    const run = await gatehouse(['status', failing], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Certificate ${failing}`);
    expect(run.stdout).toMatch(/Next renewal: .*retry: retry ladder after 1 failed round/);
    expect(run.stdout).toContain('Job:          none');
    expect(run.stdout).toContain('FAIL dns broken.cli.test: broken.cli.test has no A/AAAA record');
    expect(run.stdout).toContain("Why:          Gatehouse's own checks found a problem");
    const json = JSON.parse((await gatehouse(['status', 'broken.cli.test', '--json'], env)).stdout);
    expect(json.certificates[0]).toMatchObject({ id: failing, hint: { what: expect.any(String) } });
    const overview = await gatehouse(['status'], env);
    expect(overview.stdout).toMatch(/^5 certificates: /);
    expect(overview.stdout).toContain('1 failed');
  });

  it('cli - renew: 202 for one, 429 with the next slot (exit 5), --expiring-within picks by expiry', async () => {
    const one = await gatehouse(['renew', healthy], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('renewal requested (202)');
    const refused = await gatehouse(['renew', spent, '--json'], env);
    expect(refused.code).toBe(5);
    const body = JSON.parse(refused.stdout);
    expect(body.renewals[0]).toMatchObject({ id: spent, status: 429, retryAfter: expect.any(String) });
    expect(Date.parse(body.renewals[0].retryAfter)).toBeGreaterThan(Date.now());
    const soon = JSON.parse((await gatehouse(['renew', '--expiring-within', '7d', '--json'], env)).stdout);
    expect(soon.renewals.map((r: { id: string }) => r.id)).toEqual([expiring]);
    // --all: every ACME certificate (the upload is skipped); the spent one is refused, so the exit code is 5.
    const all = await gatehouse(['renew', '--all', '--json'], env);
    expect(all.code).toBe(5);
    const renewals = JSON.parse(all.stdout).renewals as Array<{ id: string; status: number }>;
    expect(renewals.map((r) => r.id).sort()).toEqual([failing, expiring, healthy, spent].sort());
    expect(renewals.find((r) => r.id === spent)?.status).toBe(429);
    expect(renewals.filter((r) => r.status === 202)).toHaveLength(3);
    const rows = await database.db.selectFrom('certificates').select(['id', 'status']).execute();
    const status = Object.fromEntries(rows.map((row) => [row.id, row.status]));
    expect(status[healthy]).toBe('renewing');
    expect(status[expiring]).toBe('renewing');
    expect(status[spent]).toBe('valid');
  });

  it('cli - inspect reads the issued chain: SANs, issuer, days left', async () => {
    const run = await gatehouse(['inspect', uploaded, '--json'], env);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout);
    expect(body.leaf.names).toEqual(['custom.cli.test', 'www.custom.cli.test']);
    expect(body.leaf.keyType).toBe('ECDSA prime256v1');
    expect(body.leaf.daysLeft).toBeGreaterThan(18);
    expect(body.leaf.daysLeft).toBeLessThanOrEqual(20);
    expect(body.chain).toHaveLength(1);
    expect(body.chain[0].isCa).toBe(true);
    const text = await gatehouse(['inspect', uploaded], env);
    expect(text.stdout).toContain('SANs:        custom.cli.test, www.custom.cli.test');
    const notIssued = await gatehouse(['inspect', failing], env);
    expect(notIssued.code).toBe(4);
    expect(notIssued.stderr).toContain('has not been issued yet');
  });

  it('cli - apps create, ls and rm through the api', async () => {
    const created = await gatehouse(
      [
        'apps',
        'create',
        'web',
        '--image',
        'busybox',
        '--port',
        '8080',
        '--domain',
        'https://web.cli.test',
        '--profile',
        'shortlived',
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).app).toMatchObject({
      name: 'web',
      domains: [{ url: 'https://web.cli.test', profile: 'shortlived' }],
      certificates: [{ status: 'pending' }],
    });
    const list = await gatehouse(['apps', 'ls'], env);
    expect(list.stdout).toMatch(/web\s+busybox\s+https:\/\/web\.cli\.test/);
    const internal = await gatehouse(
      [
        'apps',
        'create',
        'intra',
        '--image',
        'busybox',
        '--port',
        '8080',
        '--domain',
        'https://intra.internal',
        '--json',
      ],
      env,
    );
    expect(JSON.parse(internal.stdout).app.domains).toEqual([expect.objectContaining({ mode: 'local-ca' })]);
    const refusedMode = await gatehouse(
      [
        'apps',
        'create',
        'intra2',
        '--image',
        'busybox',
        '--port',
        '8080',
        '--domain',
        'https://b.internal',
        '--mode',
        'acme',
      ],
      env,
    );
    expect(refusedMode.code).toBe(1);
    expect(refusedMode.stderr).toContain('use mode local-ca');
    expect((await gatehouse(['apps', 'rm', 'intra'], env)).code).toBe(0);
    const bad = await gatehouse(['apps', 'create', 'bad', '--image', 'busybox', '--port', '99999'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('port');
    const removed = await gatehouse(['apps', 'rm', 'web'], env);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('certificates are kept, not renewed');
    expect((await gatehouse(['apps', 'rm', 'web'], env)).code).toBe(4);
  });

  it("cli - an app's TCP ports: set with --tcp, shown by apps show, apps ls and status <app>", async () => {
    const created = await gatehouse(
      [
        'apps',
        'create',
        'pgdb',
        '--image',
        'postgres:17',
        '--port',
        '5432',
        '--domain',
        'https://pgdb.cli.test',
        '--tcp',
        '15433/tls',
        '--tcp',
        '16380:6379',
        '--json',
      ],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).app.tcp).toMatchObject([
      { publicPort: 15433, targetPort: null, tls: true },
      { publicPort: 16380, targetPort: 6379, tls: false },
    ]);
    const starting = await gatehouse(['apps', 'show', 'pgdb'], env);
    expect(starting.code, starting.stderr).toBe(0);
    expect(starting.stdout).toContain('TCP ports:  15433:5432/tls starting, 16380:6379 starting');
    expect(starting.stdout).toContain('https://pgdb.cli.test [auto, acme]');
    // What the deployer records once it has run the proxies: one serves, the other's port is held on the host.
    const appId = (
      await database.db.selectFrom('apps').select('id').where('name', '=', 'pgdb').executeTakeFirstOrThrow()
    ).id;
    const inUse =
      'port 15433 is in use on the host by another process; the proxy is retried and serves the port once it is free';
    await database.db
      .insertInto('tcp_proxy_states')
      .values([
        {
          public_port: 15433,
          app_id: appId,
          status: 'failed',
          error_reason: 'port-in-use',
          error_message: inUse,
        },
        { public_port: 16380, app_id: appId, status: 'running' },
      ])
      .execute();
    const shown = await gatehouse(['apps', 'show', 'pgdb'], env);
    expect(shown.stdout).toContain('TCP ports:  15433:5432/tls failed, 16380:6379 running');
    expect(shown.stdout).toContain(`    15433: ${inUse}`);
    const shownJson = await gatehouse(['apps', 'show', 'pgdb', '--json'], env);
    expect(JSON.parse(shownJson.stdout).app.tcp).toMatchObject([
      { publicPort: 15433, status: 'failed', error: { reason: 'port-in-use', message: inUse } },
      { publicPort: 16380, status: 'running', error: null },
    ]);
    const list = await gatehouse(['apps', 'ls'], env);
    expect(list.stdout).toMatch(/^NAME\s+IMAGE\s+DOMAINS\s+TCP\s+CONTAINER\s+CERTIFICATES$/m);
    expect(list.stdout).toMatch(
      /pgdb\s+postgres:17\s+https:\/\/pgdb\.cli\.test\s+15433:5432\/tls\(failed\),16380:6379\s/,
    );
    const status = await gatehouse(['status', 'pgdb'], env);
    expect(status.stdout).toContain('TCP ports:  15433:5432/tls failed, 16380:6379 running');
    const malformed = await gatehouse(
      ['apps', 'create', 'bad-tcp', '--image', 'busybox', '--port', '80', '--tcp', '5433:tls'],
      env,
    );
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('PUBLIC[:TARGET][/tls]');
    // The api's own refusals come through as they are (a reserved port, with its reason).
    const reserved = await gatehouse(
      ['apps', 'create', 'web-tcp', '--image', 'busybox', '--port', '80', '--tcp', '443'],
      env,
    );
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toContain('websecure');
    expect((await gatehouse(['apps', 'show', 'nope'], env)).code).toBe(4);
    expect((await gatehouse(['apps', 'rm', 'pgdb'], env)).code).toBe(0);
  });

  it('cli - npx gatehouse runs the workspace bin', async () => {
    const run = await new Promise<Run>((resolve) => {
      const child = spawn('npx', ['--no', 'gatehouse', 'certs', 'ls', '--search', 'broken.cli', '--json'], {
        cwd: repoRoot,
        env: {
          ...env,
          PATH: `${join(repoRoot, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
          HOME: process.env.HOME ?? '/root',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).certificates.map((c: { id: string }) => c.id)).toEqual([failing]);
  });

  it('cli - exit codes: wrong token 3, usage 2, unreachable api 6; the token is never printed', async () => {
    const wrong = await gatehouse(['certs', 'ls'], { ...env, GATEHOUSE_API_TOKEN: 'not-the-token' });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('the bearer token is not valid');
    expect((await gatehouse(['renew'], env)).code).toBe(2);
    expect((await gatehouse(['frobnicate'], env)).code).toBe(2);
    expect((await gatehouse(['certs', 'ls'], { GATEHOUSE_URL: env.GATEHOUSE_URL! })).code).toBe(2);
    const down = await gatehouse(['status'], {
      ...env,
      GATEHOUSE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    expect(down.code).toBe(6);
    expect(down.stderr).toContain('ECONNREFUSED');
    for (const run of [wrong, down]) expect(run.stdout + run.stderr).not.toContain(token);
    expect(api.output()).not.toContain(token);
  });
});
