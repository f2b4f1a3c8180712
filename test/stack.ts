import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsService, natsServerAuthorization, natsServices } from '@gatehouse/messaging';
import {
  masterKey,
  type ServiceProcess,
  startCertIssuer,
  startReadyService,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  createTestRoles,
  freePort,
  type PebbleOptions,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  type TestRoles,
  waitFor,
} from '@gatehouse/testing';

/** The product's main path as real processes: api, deployer, cert-issuer and proxy-config, with Pebble. */
export interface TestStack {
  apiUrl: string;
  apiToken: string;
  /** Traefik's directories live in `<root>/dynamic` and `<root>/certs`. */
  root: string;
  pebble: TestPebble;
  database: TestDatabase;
  processes: Array<{ name: string; process: ServiceProcess }>;
  /**
   * Stops every service process, runs `between` (the processes are down: drop the database, clear directories),
   * then starts them again with the same configuration. Containers, the database, NATS and Pebble stay.
   */
  restartServices(between?: () => Promise<void>): Promise<void>;
  /** Stops every process, removes the stack's containers, drops the database; safe after a partial start. */
  stop(): Promise<void>;
}

type StackService = 'api' | 'deployer' | 'cert-issuer' | 'proxy-config' | 'renewal-scheduler' | 'notifier';

export interface StackOptions {
  label: string;
  logLevel?: string;
  /** Pebble settings (a short certificate lifetime, …); its HTTP-01 port is the stack's. */
  pebble?: Omit<PebbleOptions, 'httpPort'>;
  /**
   * More environment per service. The four main services always run; an entry for `renewal-scheduler` or
   * `notifier` (even an empty one) starts that service too.
   */
  env?: Partial<Record<StackService, Record<string, string>>>;
  /** Run NATS with per-service users and subject permissions, each service with its own credentials. */
  natsAuth?: boolean;
  /**
   * Connect each service as its own Postgres role (shared/db database-grants, as compose does) with
   * DB_MIGRATE=false; the schema is migrated by the superuser beforehand, like compose's `migrate` service.
   */
  dbRoles?: boolean;
}

/**
 * Starts a database, a nats-server and a Pebble of its own, then the four services configured as in
 * production except for host networking (containers listen on 127.0.0.1) and the test CA. `label` names the
 * database, the Docker stack (its containers only are managed and removed) and the edge node.
 */
export async function startStack(options: StackOptions): Promise<TestStack> {
  const label = options.label;
  const apiToken = randomBytes(32).toString('base64');
  const processes: TestStack['processes'] = [];
  let database: TestDatabase | undefined;
  let nats: TestNatsServer | undefined;
  let pebble: TestPebble | undefined;
  let roles: TestRoles | undefined;
  const root = mkdtempSync(join(tmpdir(), `gh-${label}-`));
  const stack = {
    apiUrl: '',
    apiToken,
    root,
    get pebble() {
      return pebble!;
    },
    get database() {
      return database!;
    },
    processes,
    async restartServices(between?: () => Promise<void>) {
      await Promise.all(processes.map(({ process }) => process.stop()));
      processes.length = 0;
      await between?.();
      // With roles the services do not migrate: the one-shot step does, as in compose.
      await roles?.migrateAndGrant();
      await startServices();
    },
    async stop() {
      await Promise.all(processes.map(({ process }) => process.stop()));
      removeContainers(label);
      await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
      await roles?.drop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  let http01Port = 0;
  let apiPort = 0;
  const natsPasswords = Object.fromEntries(
    natsServices.map((service) => [service, randomBytes(18).toString('base64url')]),
  ) as Record<NatsService, string>;
  /** A service's NATS credentials when the stack runs with users, else nothing. */
  const natsUser = (service: NatsService): Record<string, string> =>
    options.natsAuth ? { NATS_USER: service, NATS_PASSWORD: natsPasswords[service] } : {};
  /**
   * A service's own role (its password apart, in DATABASE_PASSWORD, as compose gives it from a secret file) and no
   * migrating when the stack runs with roles, else nothing (the superuser URL).
   */
  const dbRole = (service: NatsService): Record<string, string> => {
    if (!roles) return {};
    const url = new URL(roles.urls[service]);
    url.password = '';
    return { DATABASE_URL: url.toString(), DATABASE_PASSWORD: roles.passwords[service], DB_MIGRATE: 'false' };
  };
  async function startServices(): Promise<void> {
    const testDatabase = database!;
    const natsServer = nats!;
    const testPebble = pebble!;
    const base = {
      DATABASE_URL: testDatabase.url,
      NATS_URL: natsServer.url,
      ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
    };
    // Chosen just before the first start (a free port is not reserved), kept across restarts so clients keep it.
    if (apiPort === 0) apiPort = await freePort();
    stack.apiUrl = `http://127.0.0.1:${apiPort}`;
    processes.push({
      name: 'cert-issuer',
      process: await startCertIssuer({
        database: testDatabase,
        nats: natsServer,
        pebbles: [testPebble],
        http01Port,
        env: {
          ...base,
          ...natsUser('cert-issuer'),
          ...dbRole('cert-issuer'),
          ...options.env?.['cert-issuer'],
        },
      }),
    });
    processes.push(
      ...(await Promise.all([
        startReadyService('api', {
          ...base,
          API_LISTEN: `127.0.0.1:${apiPort}`,
          GATEHOUSE_API_TOKEN: apiToken,
          GATEHOUSE_MASTER_KEY: masterKey,
          ...natsUser('api'),
          ...dbRole('api'),
          ...options.env?.api,
        }).then((process) => ({ name: 'api', process })),
        startReadyService('deployer', {
          ...base,
          DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
          DOCKER_NETWORK: 'host',
          GATEHOUSE_STACK: label,
          GATEHOUSE_MASTER_KEY: masterKey,
          IMAGE_PULL: 'never',
          DEPLOY_READY_TIMEOUT: '15s',
          ...natsUser('deployer'),
          ...dbRole('deployer'),
          ...options.env?.deployer,
        }).then((process) => ({ name: 'deployer', process })),
        startReadyService('proxy-config', {
          ...base,
          TRAEFIK_DYNAMIC_DIR: join(root, 'dynamic'),
          TRAEFIK_CERTS_DIR: join(root, 'certs'),
          GATEHOUSE_MASTER_KEY: masterKey,
          HTTP01_UPSTREAM_URL: `http://127.0.0.1:${http01Port}`,
          EDGE_NODE: label,
          ...natsUser('proxy-config'),
          ...dbRole('proxy-config'),
          ...options.env?.['proxy-config'],
        }).then((process) => ({ name: 'proxy-config', process })),
        ...(options.env?.['renewal-scheduler']
          ? [
              startReadyService('renewal-scheduler', {
                ...base,
                GATEHOUSE_MASTER_KEY: masterKey,
                ACME_CA_BUNDLE: testPebble.listenerCaPath,
                ...natsUser('renewal-scheduler'),
                ...dbRole('renewal-scheduler'),
                ...options.env['renewal-scheduler'],
              }).then((process) => ({ name: 'renewal-scheduler', process })),
            ]
          : []),
        ...(options.env?.notifier
          ? [
              startReadyService('notifier', {
                ...base,
                ...natsUser('notifier'),
                ...dbRole('notifier'),
                ...options.env.notifier,
              }).then((process) => ({
                name: 'notifier',
                process,
              })),
            ]
          : []),
      ])),
    );
    // /readyz turns 200 before the api's own listener is bound (the health server starts first): under load a
    // test's first request could be refused. Wait until the API answers at all.
    await waitFor(
      'the api listening',
      async () => (await fetch(`${stack.apiUrl}/healthz`).catch(() => undefined)) !== undefined,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  }
  try {
    http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase(label.replace(/-/g, '_')),
      startNatsServer(options.natsAuth ? { authorization: natsServerAuthorization(natsPasswords) } : {}),
      startPebble({ ...options.pebble, httpPort: http01Port }),
    ]);
    if (options.dbRoles) roles = await createTestRoles(database);
    await startServices();
    return stack;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** Removes every container of the stack `label`; best effort (none left, or Docker gone). */
function removeContainers(label: string): void {
  try {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=gatehouse.stack=${label}`], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  } catch {
    // nothing to remove, or docker unavailable
  }
}
