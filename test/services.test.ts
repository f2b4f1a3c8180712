import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceProcess, startServiceProcess } from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const services = ['api', 'deployer', 'cert-issuer', 'renewal-scheduler', 'proxy-config', 'notifier'] as const;
const apiToken = randomBytes(32).toString('base64');
const masterKey = randomBytes(32).toString('base64');

/** What each service needs beyond the shared variables, on ports of its own. */
async function envFor(service: (typeof services)[number], base: Record<string, string>) {
  const healthPort = await freePort();
  const env: Record<string, string> = { ...base, HEALTH_LISTEN: `127.0.0.1:${healthPort}` };
  if (service === 'api') {
    env.API_LISTEN = `127.0.0.1:${await freePort()}`;
    env.GATEHOUSE_API_TOKEN = apiToken;
    env.GATEHOUSE_MASTER_KEY = masterKey;
  }
  if (service === 'cert-issuer') {
    env.HTTP01_LISTEN = `127.0.0.1:${await freePort()}`;
    env.GATEHOUSE_MASTER_KEY = masterKey;
  }
  if (service === 'renewal-scheduler') env.GATEHOUSE_MASTER_KEY = masterKey;
  if (service === 'proxy-config') {
    const dir = mkdtempSync(join(tmpdir(), 'gh-traefik-'));
    env.TRAEFIK_DYNAMIC_DIR = join(dir, 'dynamic');
    env.TRAEFIK_CERTS_DIR = join(dir, 'certs');
    env.GATEHOUSE_MASTER_KEY = masterKey;
  }
  if (service === 'deployer') {
    env.DOCKER_HOST = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    env.DOCKER_NETWORK = 'host';
    env.GATEHOUSE_MASTER_KEY = masterKey;
    // A stack of its own: the deployer never touches containers of other test runs.
    env.GATEHOUSE_STACK = `test-services-${healthPort}`;
  }
  return { env, healthUrl: `http://127.0.0.1:${healthPort}` };
}

describe('services', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let base: Record<string, string>;
  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('services'), startNatsServer()]);
    base = { DATABASE_URL: database.url, NATS_URL: nats.url, LOG_LEVEL: 'info' };
  });
  afterAll(async () => {
    await Promise.all([database.drop(), nats.stop()]);
  });

  it('services - all six start, report ready and metrics, and drain on SIGTERM with exit code 0', async () => {
    const running: Array<{ name: string; process: ServiceProcess; healthUrl: string }> = [];
    try {
      for (const name of services) {
        const { env, healthUrl } = await envFor(name, base);
        running.push({ name, process: startServiceProcess(name, env), healthUrl });
      }
      for (const { name, process, healthUrl } of running) {
        const readiness = await waitFor(
          `${name} ready`,
          async () => {
            const response = await fetch(`${healthUrl}/readyz`);
            return (
              response.status === 200 && ((await response.json()) as { checks: Record<string, unknown> })
            );
          },
          // Six services start at once; under a loaded CI machine that has taken over 30 s.
          { timeoutMs: 60_000, intervalMs: 200 },
        ).catch((error) => {
          throw new Error(`${name} never became ready:\n${process.output()}`, { cause: error });
        });
        expect(Object.keys(readiness.checks)).toEqual(expect.arrayContaining(['postgres', 'nats']));
        expect(await (await fetch(`${healthUrl}/healthz`)).json()).toEqual({ status: 'ok' });
        const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
        expect(metrics).toContain('gatehouse_outbox_published_total');
        expect(metrics).toContain('process_cpu_seconds_total');
      }
      // Every line a service logged is JSON carrying its name.
      for (const { name, process } of running) {
        const lines = process.output().trim().split('\n');
        for (const line of lines) expect(JSON.parse(line)).toMatchObject({ service: name });
      }
    } finally {
      const codes = await Promise.all(running.map(({ process }) => process.stop('SIGTERM')));
      const unclean = running.filter((_, index) => codes[index] !== 0);
      expect(
        codes,
        unclean.map(({ name, process }) => `${name}:\n${process.output().slice(-3000)}`).join('\n'),
      ).toEqual(services.map(() => 0));
    }
    for (const { process } of running) expect(process.output()).toContain('"msg":"stopped"');
  });

  it('services - bad configuration exits non-zero with a message naming the variable', async () => {
    const cases: Array<{
      service: (typeof services)[number];
      env: Record<string, string>;
      variable: string;
    }> = [
      { service: 'api', env: { LOG_LEVEL: 'loud' }, variable: 'LOG_LEVEL' },
      { service: 'api', env: { GATEHOUSE_API_TOKEN: 'short' }, variable: 'GATEHOUSE_API_TOKEN' },
      {
        service: 'cert-issuer',
        env: { GATEHOUSE_MASTER_KEY: 'not-a-key' },
        variable: 'GATEHOUSE_MASTER_KEY',
      },
      { service: 'deployer', env: { DOCKER_HOST: '/var/run/docker.sock' }, variable: 'DOCKER_HOST' },
      { service: 'notifier', env: { DATABASE_URL: 'mysql://root:pw@db/x' }, variable: 'DATABASE_URL' },
      { service: 'renewal-scheduler', env: { NATS_URL: 'http://nats' }, variable: 'NATS_URL' },
      { service: 'proxy-config', env: { HEALTH_LISTEN: '127.0.0.1:70000' }, variable: 'HEALTH_LISTEN' },
    ];
    for (const { service, env, variable } of cases) {
      const { env: good } = await envFor(service, base);
      const process = startServiceProcess(service, { ...good, ...env });
      const code = await process.exited;
      expect(code, `${service} with bad ${variable}`).toBe(78);
      expect(process.output()).toContain(`${variable}:`);
      expect(process.output()).not.toMatch(/\bat .+\.ts:\d+/); // No stack trace.
    }
  });

  it('services - a service started before NATS waits for it and becomes ready when it appears', async () => {
    const port = await freePort();
    const { env, healthUrl } = await envFor('notifier', { ...base, NATS_URL: `nats://127.0.0.1:${port}` });
    const process = startServiceProcess('notifier', env);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(process.child.exitCode).toBeNull();
      const late = await startNatsServer({ port });
      try {
        await waitFor(
          'notifier ready after NATS appeared',
          async () => (await fetch(`${healthUrl}/readyz`).catch(() => undefined))?.status === 200,
          { timeoutMs: 30_000, intervalMs: 200 },
        );
      } finally {
        await late.stop();
      }
    } finally {
      await process.stop('SIGTERM');
    }
  });
});
