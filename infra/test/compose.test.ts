// compose.yaml, the Dockerfile and Traefik's static config, checked without a Docker engine: images cannot be
// pulled here, so compose.yaml is validated against the Compose Specification's JSON Schema (TESTBED.md, Compose).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DatabaseService, databaseServices, roleName } from '@gatehouse/db';
import { natsInboxPrefix, natsServices } from '@gatehouse/messaging';
import { freePort, readVendoredFileDigest, waitForPort } from '@gatehouse/testing';
import { connect } from '@nats-io/transport-node';
import type { ErrorObject } from 'ajv';
// The default (draft-07) build. Its named export, because under NodeNext TypeScript types the default import of
// this CommonJS module as the module object, which has no construct signature.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { natsPasswordVariable, renderNatsConfig } from '../../scripts/nats-config.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
// Vendored (infra/compose-schema/SOURCE.md): the tests run from any clone, with nothing beside the repository.
const composeSchemaPath = path.join(repoRoot, 'infra/compose-schema/compose-spec.json');

const gatehouseServices = ['api', 'deployer', 'cert-issuer', 'renewal-scheduler', 'proxy-config', 'notifier'];

/** The slice of a Compose service these tests read; the schema has checked the shape before any cast. */
interface Service {
  image?: string;
  pull_policy?: string;
  build?: { context?: string; args?: Record<string, string> };
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  command?: string | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }>;
}

interface ComposeFile {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
}

/** Parses YAML the way Compose does: `<<` merge keys resolved (YAML 1.2 alone leaves them as plain keys). */
function readYaml(file: string): unknown {
  return parse(readFileSync(path.join(repoRoot, file), 'utf8'), { merge: true });
}

const ajv = new Ajv({ strict: false, validateSchema: false });
const validateCompose = ajv.compile(JSON.parse(readFileSync(composeSchemaPath, 'utf8')) as object);

function schemaErrors(document: unknown): ErrorObject[] {
  return validateCompose(document) ? [] : (validateCompose.errors ?? []);
}

function loadCompose(): ComposeFile {
  return readYaml('compose.yaml') as ComposeFile;
}

function serviceOrThrow(compose: ComposeFile, name: string): Service {
  const service = compose.services[name];
  if (service === undefined) throw new Error(`compose.yaml has no service ${name}`);
  return service;
}

/** Host paths in short volume syntax start with `.`, `/` or `~`; anything else names a volume. */
function namedVolumeSources(service: Service): string[] {
  return (service.volumes ?? [])
    .map((volume) => volume.split(':')[0] ?? '')
    .filter((source) => !/^[./~]/.test(source));
}

/** Splits a Dockerfile into stages: each starts at a FROM line. */
function dockerfileStages(): { image: string; name: string | undefined; body: string }[] {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const parts = text.split(/^(?=FROM\s)/im).filter((part) => /^FROM\s/i.test(part));
  return parts.map((body) => {
    const match = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(body);
    if (match === null) throw new Error(`unreadable FROM line: ${body.split('\n')[0]}`);
    return { image: match[1]!, name: match[2], body };
  });
}

describe('compose', () => {
  it('compose - the vendored Compose schema is the upstream file its SOURCE.md records', async () => {
    const { recorded, actual } = await readVendoredFileDigest(composeSchemaPath);
    expect(actual).toBe(recorded);
  });

  it('compose - compose.yaml is a valid Compose file', () => {
    expect(schemaErrors(loadCompose())).toEqual([]);
  });

  it.each([
    {
      breakage: 'an unknown depends_on condition',
      mutate: (compose: ComposeFile) => {
        serviceOrThrow(compose, 'api').depends_on = { postgres: { condition: 'bogus' } };
      },
      path: '/services/api/depends_on/postgres/condition',
    },
    {
      breakage: 'a misspelt service key',
      mutate: (compose: ComposeFile) => {
        Object.assign(serviceOrThrow(compose, 'notifier'), { helthcheck: { test: ['CMD', 'true'] } });
      },
      path: '/services/notifier',
    },
    {
      breakage: 'a health check test of the wrong type',
      mutate: (compose: ComposeFile) => {
        serviceOrThrow(compose, 'postgres').healthcheck = { test: 42 as unknown as string };
      },
      path: '/services/postgres/healthcheck/test',
    },
  ])('compose - the schema rejects a copy with $breakage', ({ mutate, path: instancePath }) => {
    const broken = loadCompose();
    mutate(broken);
    const errors = schemaErrors(broken);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((error) => error.instancePath.startsWith(instancePath))).toBe(true);
  });

  it('compose - the TCP proxies run the main Traefik version and mount the volumes proxy-config writes, where the files say', () => {
    const compose = loadCompose();
    const deployer = serviceOrThrow(compose, 'deployer');
    const traefik = serviceOrThrow(compose, 'traefik');
    const proxyConfig = serviceOrThrow(compose, 'proxy-config');
    expect(deployer.environment?.TCP_PROXY_IMAGE).toBe(traefik.image);
    // Compose names a project's volume <project>_<volume>.
    expect(deployer.environment?.TCP_PROXY_DYNAMIC_DIR).toBe(`${compose.name}_traefik-dynamic`);
    expect(deployer.environment?.TCP_PROXY_CERTS_DIR).toBe(`${compose.name}_traefik-certs`);
    expect(proxyConfig.volumes).toContain(`traefik-dynamic:${proxyConfig.environment?.TRAEFIK_DYNAMIC_DIR}`);
    expect(proxyConfig.volumes).toContain(`traefik-certs:${deployer.environment?.TCP_PROXY_CERTS_PATH}`);
  });

  it('compose - every Gatehouse service is built from the Dockerfile for itself', () => {
    const compose = loadCompose();
    for (const name of gatehouseServices) {
      expect(serviceOrThrow(compose, name).build, name).toEqual({ context: '.', args: { SERVICE: name } });
      expect(existsSync(path.join(repoRoot, 'services', name)), name).toBe(true);
    }
  });

  it('compose - every Gatehouse service has a health check on its own health port', () => {
    const compose = loadCompose();
    const healthPorts = [9101, 9102, 9103, 9104, 9105, 9106];
    gatehouseServices.forEach((name, index) => {
      const service = serviceOrThrow(compose, name);
      expect(service.healthcheck?.disable, name).not.toBe(true);
      expect(service.healthcheck?.test?.length, name).toBeGreaterThan(0);
      expect(service.environment?.HEALTH_LISTEN, name).toBe(`0.0.0.0:${healthPorts[index]}`);
    });
  });

  it('compose - every Gatehouse service waits for healthy postgres and nats', () => {
    const compose = loadCompose();
    for (const name of gatehouseServices) {
      const dependsOn = serviceOrThrow(compose, name).depends_on;
      expect(dependsOn?.postgres?.condition, name).toBe('service_healthy');
      expect(dependsOn?.nats?.condition, name).toBe('service_healthy');
    }
    expect(serviceOrThrow(compose, 'postgres').healthcheck?.test).toContain('pg_isready');
    expect(String(serviceOrThrow(compose, 'nats').healthcheck?.test)).toContain(
      ':8222/healthz?js-enabled-only=true',
    );
  });

  it('compose - every Gatehouse service reaches the other containers with a NATS user of its own; only the services that open sealed data get the master key', () => {
    const compose = loadCompose();
    expect(compose.secrets?.['master-key']?.file).toBe('./infra/secrets/master-key');
    const readsMasterKey = ['api', 'deployer', 'cert-issuer', 'renewal-scheduler', 'proxy-config'];
    for (const name of gatehouseServices) {
      const service = serviceOrThrow(compose, name);
      expect(service.environment, name).toMatchObject({
        DATABASE_URL: expect.stringMatching(/^postgres:\/\/[^@]+@postgres:5432\//),
        NATS_URL: 'nats://nats:4222',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
        NATS_USER: name,
        NATS_PASSWORD_FILE: `/run/secrets/nats-${name}`,
      });
      expect(service.secrets, name).toContain(`nats-${name}`);
      expect(compose.secrets?.[`nats-${name}`]?.file).toBe(`./infra/secrets/nats-${name}`);
      // No service sees another's NATS password.
      expect(
        (service.secrets ?? []).filter((secret) => secret.startsWith('nats-')),
        name,
      ).toEqual([`nats-${name}`]);
      if (readsMasterKey.includes(name)) {
        expect(service.environment?.GATEHOUSE_MASTER_KEY_FILE, name).toBe('/run/secrets/master-key');
        expect(service.secrets, name).toContain('master-key');
      } else {
        expect(service.environment, name).not.toHaveProperty('GATEHOUSE_MASTER_KEY_FILE');
        expect(service.secrets, name).not.toContain('master-key');
      }
    }
    expect(serviceOrThrow(compose, 'notifier').environment?.SMTP_URL).toBe('smtp://mailpit:1025');
  });

  it('compose - every Gatehouse service connects to Postgres as its own role with its own password secret and waits for the one-shot migrate service, which alone migrates and gets every role password', () => {
    const compose = loadCompose();
    const migrate = serviceOrThrow(compose, 'migrate');
    expect(migrate.command).toEqual(['node', 'shared/db/src/migrate-cli.ts']);
    expect(migrate.environment).toMatchObject({
      DATABASE_URL: expect.stringMatching(/^postgres:\/\/gatehouse:[^@]+@postgres:5432\/gatehouse$/),
      DB_ROLE_PASSWORDS_DIR: '/run/secrets',
      DB_ROLE_PREFIX: 'gatehouse_',
    });
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy');
    expect([...(migrate.secrets ?? [])].sort()).toEqual(
      databaseServices.map((name) => `postgres-${name}`).sort(),
    );
    expect([...databaseServices].sort()).toEqual([...gatehouseServices].sort());
    for (const name of gatehouseServices) {
      const service = serviceOrThrow(compose, name);
      expect(service.environment, name).toMatchObject({
        DATABASE_URL: `postgres://${roleName('gatehouse_', name as DatabaseService)}@postgres:5432/gatehouse`,
        DATABASE_PASSWORD_FILE: `/run/secrets/postgres-${name}`,
        DB_MIGRATE: 'false',
      });
      expect(
        (service.secrets ?? []).filter((secret) => secret.startsWith('postgres-')),
        name,
      ).toEqual([`postgres-${name}`]);
      expect(compose.secrets?.[`postgres-${name}`]?.file).toBe(`./infra/secrets/postgres-${name}`);
      expect(service.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
    }
  });

  it('compose - nats.conf is the one rendered from the permission table, monitoring stays inside the container, images are pinned', () => {
    expect(readFileSync(path.join(repoRoot, 'infra/nats/nats.conf'), 'utf8')).toBe(renderNatsConfig());
    const compose = loadCompose();
    const nats = serviceOrThrow(compose, 'nats');
    expect(nats.ports).toBeUndefined();
    expect(nats.volumes).toContain('./infra/nats/nats.conf:/etc/nats/nats.conf:ro');
    expect(readFileSync(path.join(repoRoot, 'infra/nats/nats.conf'), 'utf8')).toMatch(
      /^http: 127\.0\.0\.1:8222$/m,
    );
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image === undefined) continue;
      // A tag with at least major.minor (v optional; Postgres has no patch number), never a bare major or latest.
      expect(service.image, name).toMatch(/:v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/);
    }
  });

  it('compose - nats.conf boots a real nats-server on which each service authenticates with its own password only', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-nats-conf-'));
    const port = await freePort();
    const passwords = Object.fromEntries(
      natsServices.map((service) => [service, randomBytes(12).toString('hex')]),
    );
    const env = Object.fromEntries(
      // Quoted, as compose passes them: nats-server parses a variable's value as config (hex digits become a number).
      natsServices.map((service) => [natsPasswordVariable(service), JSON.stringify(passwords[service]!)]),
    );
    // The committed file with only what must differ here: loopback ports and a store of the test's own.
    const conf = path.join(dir, 'nats.conf');
    writeFileSync(
      conf,
      readFileSync(path.join(repoRoot, 'infra/nats/nats.conf'), 'utf8')
        .replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${port}`)
        .replace('http: 127.0.0.1:8222', `http: 127.0.0.1:${await freePort()}`)
        .replace('store_dir: "/data"', `store_dir: ${JSON.stringify(path.join(dir, 'js'))}`),
    );
    const server = spawn('nats-server', ['-c', conf], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await waitForPort(port, 10_000).catch((error) => {
        throw new Error(stderr, { cause: error });
      });
      for (const service of natsServices) {
        const servers = [`nats://127.0.0.1:${port}`];
        const own = await connect({
          servers,
          user: service,
          pass: passwords[service],
          inboxPrefix: natsInboxPrefix(service),
        });
        const info = await own.request('$JS.API.INFO', '', { timeout: 2_000 });
        expect(info.string(), service).toContain('account_info_response');
        await own.close();
        // Replies may come only to the service's own inbox: the shared default one is refused.
        const shared = await connect({ servers, user: service, pass: passwords[service] });
        const refused = await shared.request('$JS.API.INFO', '', { timeout: 500 }).then(
          () => 'answered',
          () => 'refused',
        );
        expect(refused, service).toBe('refused');
        await shared.close();
      }
      const other = natsServices[1]!;
      await expect(
        connect({ servers: [`nats://127.0.0.1:${port}`], user: natsServices[0]!, pass: passwords[other] }),
      ).rejects.toMatchObject({ name: 'AuthorizationError' });
    } finally {
      server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compose - no Gatehouse service has a container_name and cert-issuer publishes no host ports, so both scale', () => {
    const compose = loadCompose();
    for (const name of gatehouseServices) {
      expect(serviceOrThrow(compose, name), name).not.toHaveProperty('container_name');
    }
    expect(serviceOrThrow(compose, 'cert-issuer').ports ?? []).toEqual([]);
  });

  it('compose - postgres and nats keep their data in named volumes', () => {
    const compose = loadCompose();
    for (const [name, dataDir] of [
      ['postgres', '/var/lib/postgresql/data'],
      ['nats', '/data'],
    ] as const) {
      const service = serviceOrThrow(compose, name);
      const mount = (service.volumes ?? []).find((volume) => volume.split(':')[1] === dataDir);
      expect(mount, name).toBeDefined();
      const source = mount!.split(':')[0]!;
      expect(namedVolumeSources(service), name).toContain(source);
      expect(Object.keys(compose.volumes ?? {}), name).toContain(source);
    }
  });

  it('compose - traefik watches the directory proxy-config writes, through a shared named volume', () => {
    const compose = loadCompose();
    const traefikStatic = readYaml('infra/traefik/traefik.yml') as {
      entryPoints: Record<string, { address: string }>;
      providers: Record<string, { directory?: string; watch?: boolean }>;
    };
    expect(traefikStatic.entryPoints.web?.address).toBe(':80');
    expect(traefikStatic.entryPoints.websecure?.address).toBe(':443');
    expect(Object.keys(traefikStatic.providers)).toEqual(['file']);
    const directory = traefikStatic.providers.file?.directory;
    expect(traefikStatic.providers.file?.watch).toBe(true);

    const traefik = serviceOrThrow(compose, 'traefik');
    const proxyConfig = serviceOrThrow(compose, 'proxy-config');
    expect(traefik.volumes).toContain('./infra/traefik/traefik.yml:/etc/traefik/traefik.yml:ro');
    expect(traefik.volumes).toContain(`traefik-dynamic:${directory}:ro`);
    expect(proxyConfig.volumes).toContain(`traefik-dynamic:${directory}`);
    expect(proxyConfig.environment?.TRAEFIK_DYNAMIC_DIR).toBe(directory);
    // Certificate paths in the dynamic files must mean the same thing in both containers.
    const certsDir = proxyConfig.environment?.TRAEFIK_CERTS_DIR;
    expect(traefik.volumes).toContain(`traefik-certs:${certsDir}:ro`);
    expect(proxyConfig.volumes).toContain(`traefik-certs:${certsDir}`);
    expect(Object.keys(compose.volumes ?? {})).toEqual(
      expect.arrayContaining(['traefik-dynamic', 'traefik-certs']),
    );
  });

  it('compose - the image build copies the manifest of every workspace, so npm ci finds each package the lock names', () => {
    const workspaces = ['shared', 'services'].flatMap((group) =>
      readdirSync(path.join(repoRoot, group))
        .filter((name) => existsSync(path.join(repoRoot, group, name, 'package.json')))
        .map((name) => `${group}/${name}`),
    );
    const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const copied = [...text.matchAll(/^COPY\s+(\S+)\/package\.json\s/gm)].map((match) => match[1]);
    expect(workspaces.length).toBeGreaterThan(10);
    expect(copied.sort()).toEqual(workspaces.sort());
  });

  it('compose - every Dockerfile stage starts from the BASE build argument, node:24-bookworm-slim by default', () => {
    const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    // Declared before the first FROM, so every FROM may use it; scripts/images passes its local base.
    expect(text.split(/^FROM\s/m)[0]).toMatch(/^ARG BASE=node:24-bookworm-slim$/m);
    const stages = dockerfileStages();
    const base = '$' + '{BASE}';
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const earlierStages = new Set<string>();
    for (const stage of stages) {
      // A stage may build on an earlier one, which itself comes from the base.
      if (!earlierStages.has(stage.image)) expect(stage.image).toBe(base);
      if (stage.name !== undefined) earlierStages.add(stage.name);
    }
    expect(stages.at(-1)?.image).toBe(base);
  });

  it('compose - the final image stage installs production deps only and runs as USER node', () => {
    const final = dockerfileStages().at(-1)!.body;
    // npm ci, or (a lock file refused for other platforms' optional packages) the same versions, dev left out too.
    expect(final).toMatch(/^RUN \{ npm ci --omit=dev\b[^\n]*\|\| npm install --no-save --omit=dev\b/m);
    const users = [...final.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
    expect(users.at(-1)).toBe('node');
    expect(final).toMatch(/^HEALTHCHECK\s/m);
    expect(final).toMatch(/^ARG SERVICE$/m);
  });

  it('compose - the Dockerfile copies every workspace manifest before npm ci', () => {
    const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const workspaces = ['shared', 'services'].flatMap((group) =>
      readdirSync(path.join(repoRoot, group))
        .map((name) => `${group}/${name}`)
        .filter((dir) => existsSync(path.join(repoRoot, dir, 'package.json'))),
    );
    expect(workspaces.length).toBeGreaterThanOrEqual(gatehouseServices.length);
    for (const dir of workspaces) expect(text, dir).toContain(`COPY ${dir}/package.json ${dir}/\n`);
  });
  it('compose - compose.local.yaml is a valid Compose file that runs every Gatehouse service from its local image, never pulled', () => {
    const local = readYaml('compose.local.yaml') as ComposeFile;
    expect(schemaErrors(local)).toEqual([]);
    expect(Object.keys(local.services).sort()).toEqual([...gatehouseServices].sort());
    for (const name of gatehouseServices) {
      // The tag scripts/images gives it.
      expect(local.services[name]).toEqual({ image: `gatehouse/${name}:local`, pull_policy: 'never' });
    }
    // Merged over compose.yaml as `docker compose -f compose.yaml -f compose.local.yaml` does (a service's keys
    // are merged, the override's scalars win): still valid, and every other service untouched.
    const base = loadCompose();
    const merged: ComposeFile = {
      ...base,
      services: Object.fromEntries(
        Object.entries(base.services).map(([name, service]) => [
          name,
          { ...service, ...local.services[name] },
        ]),
      ),
    };
    expect(schemaErrors(merged)).toEqual([]);
    expect(merged.services.postgres).toEqual(base.services.postgres);
  });

  it('compose - scripts/images tags the images compose.local.yaml names', () => {
    const script = readFileSync(path.join(repoRoot, 'scripts/images'), 'utf8');
    expect(script).toMatch(
      /^SERVICES=\(api deployer cert-issuer renewal-scheduler proxy-config notifier\)$/m,
    );
    expect(script).toContain('-t "gatehouse/$name:$TAG"');
    expect(script).toMatch(/^TAG=\$\{GATEHOUSE_IMAGE_TAG:-local\}$/m);
  });
});
