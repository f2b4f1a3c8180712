/**
 * TCP proxies for database ports (issue 15, item 4), end to end as far as this machine allows. Traefik cannot run
 * here (no registry, no binary), so two things stand in for it, and everything else is real:
 * - real: the api's rows in Postgres, proxy-config's directory writer (the YAML and PEM files it writes, checked
 *   against the vendored Traefik v3 schema), the deployer's container lifecycle against the real Docker engine
 *   (`docker inspect` of what it created, a kill answered by starting the proxy again, removal when a port goes),
 *   the certificate files the YAML references, and the test bed's real Postgres reached with the real `pg` client.
 * - stand-in for the Traefik image: TEST_IMAGE (busybox) with an entrypoint that takes Traefik's flags, binds the
 *   entry point's port and serves the mounted dynamic directory over HTTP, proving args, binds and the port.
 * - stand-in for Traefik's TCP router: a node:tls server driven by the written YAML (entry point → router rule →
 *   service address → certificate files from `tls.certificates`), handling Postgres's SSLRequest the way Traefik
 *   does (pkg/server/router/tcp/postgres.go: peek the 8-byte SSLRequest, answer `S`, then TLS).
 */

import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { tcpProxyEntryPoint } from '@gatehouse/events';
import { createSecretBox } from '@gatehouse/pki';
import { createLogger } from '@gatehouse/telemetry';
import {
  buildTcpProxyStandInImage,
  createTestDatabase,
  freePort,
  makeCertificateChain,
  type TestCertificateChain,
  type TestDatabase,
  testbedPostgresUrl,
  waitFor,
} from '@gatehouse/testing';
import type Docker from 'dockerode';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ApiHarness, startApiHarness } from '../services/api/test/api-harness.ts';
import { tcpProxyContainerName } from '../services/deployer/src/docker/labels.ts';
import { createTcpProxies, type TcpProxies } from '../services/deployer/src/docker/tcp-proxies.ts';
import { createDockerClient } from '../services/deployer/src/docker-client.ts';
import { watchDockerEvents } from '../services/deployer/src/reconcile/docker-events.ts';
import { removeStackContainers } from '../services/deployer/test/support.ts';
import { createDirectoryWriter } from '../services/proxy-config/src/sync/directory-writer.ts';
import { createProxyDirectory } from '../services/proxy-config/src/sync/proxy-directory.ts';
import { validateTraefikConfig } from '../services/proxy-config/src/traefik/index.ts';

const run = promisify(execFile);
const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const logger = createLogger({
  service: 'tcp-proxy-test',
  level: (process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent',
});

interface DynamicFile {
  tcp?: {
    routers?: Record<string, { entryPoints: string[]; rule: string; service: string; tls?: object }>;
    services?: Record<string, { loadBalancer: { servers: Array<{ address: string }> } }>;
  };
  tls?: { certificates?: Array<{ certFile: string; keyFile: string }> };
}

const postgresSslRequest = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

/**
 * Traefik's TCP routing for one entry point, driven only by the dynamic file: the router on `entryPoint`, its
 * service's address, and — for a TLS router — termination with the file's certificates, accepting only a
 * server name its HostSNI rule names. Listens on a port of its own (the proxy container holds the public one).
 */
async function startTraefikTcpStandIn(
  file: DynamicFile,
  entryPoint: string,
): Promise<{ port: number; server: Server }> {
  const router = Object.values(file.tcp?.routers ?? {}).find((r) => r.entryPoints.includes(entryPoint));
  if (!router) throw new Error(`no TCP router on ${entryPoint}`);
  const address = file.tcp?.services?.[router.service]?.loadBalancer.servers[0]?.address;
  if (!address) throw new Error(`router ${router.service} has no service address`);
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  const sniNames = [...router.rule.matchAll(/HostSNI\(`([^`]+)`\)/g)].map((match) => match[1]!);
  const certificates = (file.tls?.certificates ?? []).map((entry) => ({
    cert: readFileSync(entry.certFile),
    key: readFileSync(entry.keyFile),
  }));
  const forward = (client: Socket | TLSSocket) => {
    const upstream = connectTcp({ host, port });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    client.on('error', close);
  };
  const server = createServer((socket) => {
    if (!router.tls) {
      if (!sniNames.includes('*')) socket.destroy();
      else forward(socket);
      return;
    }
    socket.once('readable', () => {
      const first = socket.read(8) as Buffer | null;
      if (first?.equals(postgresSslRequest)) socket.write('S');
      else if (first) socket.unshift(first);
      const [certificate] = certificates;
      if (!certificate) return socket.destroy();
      const tls = new TLSSocket(socket, { isServer: true, cert: certificate.cert, key: certificate.key });
      tls.once('secure', () => {
        const servername = (tls as TLSSocket & { servername?: string | false }).servername;
        if (typeof servername !== 'string' || !sniNames.includes(servername)) return tls.destroy();
        forward(tls);
      });
      tls.on('error', () => tls.destroy());
    });
  });
  const listenPort = await freePort();
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return { port: listenPort, server };
}

/**
 * The deployer's wiring: Docker events of the test stack's containers schedule a pass of `proxies`. Resolves once
 * the event stream is open, so no event of the test is missed.
 */
async function watchStackEvents(
  docker: Docker,
  stack: string,
  proxies: TcpProxies,
): Promise<ReturnType<typeof watchDockerEvents>> {
  let watch: ReturnType<typeof watchDockerEvents> | undefined;
  await new Promise<void>((opened) => {
    watch = watchDockerEvents(docker, stack, logger, () => proxies.schedule(), opened);
  });
  return watch!;
}

describe('tcp proxies', { timeout: 180_000 }, () => {
  const masterKey = randomBytes(32);
  const box = createSecretBox(masterKey);
  const docker = createDockerClient(process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock');
  const stack = `test-tcp-${randomBytes(3).toString('hex')}`;
  const suffix = randomBytes(3).toString('hex');
  const hostname = `db-${suffix}.test`;
  const appId = randomUUID();
  const otherAppId = randomUUID();
  const certificateId = randomUUID();
  let database: TestDatabase;
  let root: string;
  let chain: TestCertificateChain;
  let tlsPort: number;
  let plainPort: number;
  let proxies: TcpProxies;
  let file: DynamicFile;
  const servers: Server[] = [];
  let standInImage: string;
  const testbed = new URL(testbedPostgresUrl());

  beforeAll(async () => {
    standInImage = await buildTcpProxyStandInImage(testImage);
    database = await createTestDatabase('tcp_proxy');
    root = mkdtempSync(join(tmpdir(), 'gh-tcp-'));
    for (const dir of ['dynamic', 'certs']) mkdirSync(join(root, dir));
    chain = makeCertificateChain([hostname]);
    tlsPort = await freePort();
    plainPort = await freePort();
    const db = database.db;
    await db
      .insertInto('apps')
      .values([
        {
          id: appId,
          name: `pg-${suffix}`,
          image: 'postgres:17',
          port: Number(testbed.port || 5432),
          env: '{}',
          command: null,
        },
        {
          id: otherAppId,
          name: `other-${suffix}`,
          image: 'postgres:17',
          port: 5432,
          env: '{}',
          command: null,
        },
      ])
      .execute();
    await db
      .insertInto('domains')
      .values({ id: randomUUID(), app_id: appId, hostname, https: true })
      .execute();
    await db
      .insertInto('certificates')
      .values({
        id: certificateId,
        names: [hostname],
        names_key: hostname,
        status: 'valid',
        source: 'custom',
        chain_pem: `${chain.leaf}${chain.intermediate}`,
        private_key_encrypted: box.seal(chain.key, `certificate:${certificateId}`),
        not_before: new Date(Date.now() - 60_000),
        not_after: new Date(Date.now() + 30 * 86_400_000),
      } as never)
      .execute();
    await db
      .insertInto('app_certificates')
      .values({ app_id: appId, certificate_id: certificateId })
      .execute();
    // The deployer's report: the "database container" answers where the test bed's Postgres does.
    await db
      .insertInto('deployments')
      .values({
        id: randomUUID(),
        app_id: appId,
        revision: 1,
        status: 'running',
        container_id: 'c0ffee',
        upstream_host: testbed.hostname,
        upstream_port: Number(testbed.port || 5432),
      })
      .execute();
    await db
      .insertInto('app_tcp_ports')
      .values([
        { public_port: tlsPort, app_id: appId, target_port: null, tls: true },
        { public_port: plainPort, app_id: appId, target_port: null, tls: false },
      ])
      .execute();
    proxies = createTcpProxies({
      db,
      docker,
      logger,
      container: { stack, network: 'host', imagePull: 'never', pullTimeoutMs: 1_000 },
      proxy: {
        image: standInImage,
        dynamicSource: join(root, 'dynamic'),
        certsSource: join(root, 'certs'),
        certsPath: join(root, 'certs'),
      },
      debounceMs: 100,
    });
  });

  afterAll(async () => {
    await proxies?.stop();
    for (const server of servers) server.close();
    await removeStackContainers(docker, stack);
    await database?.drop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('tcp proxy - proxy-config writes schema-valid TCP routers on the per-port entry points, with the certificate they terminate with', async () => {
    const writer = createDirectoryWriter({
      dynamicDir: join(root, 'dynamic'),
      certsDir: join(root, 'certs'),
      http01ResponderUrl: 'http://127.0.0.1:1',
      box,
    });
    const directory = createProxyDirectory({ db: database.db, box, writer });
    const result = await directory.syncAll();
    expect(result.failures).toEqual([]);
    file = parse(readFileSync(join(root, 'dynamic', `app-pg-${suffix}.yml`), 'utf8')) as DynamicFile;
    expect(validateTraefikConfig(file)).toEqual({ ok: true });
    const address = `${testbed.hostname}:${testbed.port || 5432}`;
    expect(file.tcp).toEqual({
      routers: {
        [`app-pg-${suffix}-tcp-${tlsPort}`]: {
          entryPoints: [tcpProxyEntryPoint(tlsPort)],
          rule: `HostSNI(\`${hostname}\`)`,
          service: `app-pg-${suffix}-tcp-${tlsPort}`,
          tls: {},
        },
        [`app-pg-${suffix}-tcp-${plainPort}`]: {
          entryPoints: [tcpProxyEntryPoint(plainPort)],
          rule: 'HostSNI(`*`)',
          service: `app-pg-${suffix}-tcp-${plainPort}`,
        },
      },
      services: {
        [`app-pg-${suffix}-tcp-${tlsPort}`]: { loadBalancer: { servers: [{ address }] } },
        [`app-pg-${suffix}-tcp-${plainPort}`]: { loadBalancer: { servers: [{ address }] } },
      },
    });
    expect(file.tls?.certificates).toHaveLength(1);
    expect(file.tls!.certificates![0]!.certFile.startsWith(join(root, 'certs'))).toBe(true);
  });

  it('tcp proxy - a real Postgres client connects through TLS terminated with the files the router references, verifying the app name', async () => {
    const standIn = await startTraefikTcpStandIn(file, tcpProxyEntryPoint(tlsPort));
    servers.push(standIn.server);
    const client = new pg.Client({
      host: '127.0.0.1',
      port: standIn.port,
      user: decodeURIComponent(testbed.username),
      password: decodeURIComponent(testbed.password),
      database: new URL(database.url).pathname.slice(1),
      ssl: { ca: chain.root, servername: hostname, rejectUnauthorized: true },
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; one: number }>(
        'select current_database() as db, 1 as one',
      );
      expect(rows[0]).toEqual({ db: new URL(database.url).pathname.slice(1), one: 1 });
      const stream = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      expect(stream).toBeInstanceOf(TLSSocket);
      expect(stream.authorized).toBe(true);
      expect(stream.getPeerCertificate().subject.CN).toBe(hostname);
    } finally {
      await client.end();
    }
    // libpq too (psql 15 here: SSLRequest first, as with `pg`; `sslnegotiation=direct` needs psql 17), with
    // verify-full: the name it checks and sends as SNI is the app's, the address is the stand-in's.
    const rootFile = join(root, 'client-root.pem');
    writeFileSync(rootFile, chain.root);
    const { stdout } = await run(
      'psql',
      [
        `host=${hostname} hostaddr=127.0.0.1 port=${standIn.port} dbname=${new URL(database.url).pathname.slice(1)} user=${decodeURIComponent(testbed.username)} sslmode=verify-full sslrootcert=${rootFile}`,
        '-Atc',
        'select 40 + 2',
      ],
      { env: { ...process.env, PGPASSWORD: decodeURIComponent(testbed.password), PGCONNECT_TIMEOUT: '10' } },
    );
    expect(stdout.trim()).toBe('42');
    // Another CA's root does not verify the served chain: the client refuses it.
    const stranger = makeCertificateChain([hostname]);
    const refused = new pg.Client({
      host: '127.0.0.1',
      port: standIn.port,
      user: 'postgres',
      database: 'postgres',
      ssl: { ca: stranger.root, servername: hostname },
    });
    await expect(refused.connect()).rejects.toThrow(/certificate/i);
    // A name the router's HostSNI does not list gets no route.
    const unrouted = new pg.Client({
      host: '127.0.0.1',
      port: standIn.port,
      user: 'postgres',
      database: 'postgres',
      ssl: { ca: chain.root, servername: `other-${hostname}`, rejectUnauthorized: false },
    });
    await expect(unrouted.connect()).rejects.toThrow();
  });

  it('tcp proxy - the plain port forwards to the same Postgres without TLS', async () => {
    const standIn = await startTraefikTcpStandIn(file, tcpProxyEntryPoint(plainPort));
    servers.push(standIn.server);
    const client = new pg.Client({
      host: '127.0.0.1',
      port: standIn.port,
      user: decodeURIComponent(testbed.username),
      password: decodeURIComponent(testbed.password),
      database: 'postgres',
    });
    await client.connect();
    try {
      expect((await client.query('select 2 as two')).rows[0]).toEqual({ two: 2 });
    } finally {
      await client.end();
    }
  });

  it('tcp proxy - the deployer runs one hardened container per port: entry point and file provider as args, directories bound read-only, host network, labels', async () => {
    const report = await proxies.sync();
    expect(report?.failed).toEqual([]);
    expect(report?.created.sort((a, b) => a - b)).toEqual([tlsPort, plainPort].sort((a, b) => a - b));
    for (const port of [tlsPort, plainPort]) {
      const info = await docker.getContainer(tcpProxyContainerName(stack, port)).inspect();
      expect(info.Config.Image).toBe(standInImage);
      expect(info.Config.Cmd).toEqual([
        `--entryPoints.${tcpProxyEntryPoint(port)}.address=:${port}/tcp`,
        '--providers.file.directory=/etc/traefik/dynamic',
        '--providers.file.watch=true',
        '--global.checkNewVersion=false',
        '--global.sendAnonymousUsage=false',
        '--log.level=INFO',
      ]);
      expect(info.HostConfig.NetworkMode).toBe('host');
      expect(info.HostConfig.Binds).toEqual([
        `${join(root, 'dynamic')}:/etc/traefik/dynamic:ro`,
        `${join(root, 'certs')}:${join(root, 'certs')}:ro`,
      ]);
      expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges:true']);
      expect(info.HostConfig.CapDrop).toEqual(['ALL']);
      expect(info.HostConfig.ReadonlyRootfs).toBe(true);
      expect(info.HostConfig.Memory).toBe(128 * 1024 * 1024);
      expect(info.HostConfig.PidsLimit).toBe(128);
      expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(info.Config.Labels).toMatchObject({
        'gatehouse.managed': 'true',
        'gatehouse.stack': stack,
        'gatehouse.app-id': appId,
        'gatehouse.app': `pg-${suffix}`,
        'gatehouse.role': 'tcp-proxy',
        'gatehouse.tcp-port': String(port),
      });
      // The process inside got the flags, bound the public port, and sees proxy-config's files where the file
      // provider is told to look.
      await waitFor(
        'the proxy answers on its port',
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/app-pg-${suffix}.yml`).catch(
            () => undefined,
          );
          return response?.status === 200;
        },
        { timeoutMs: 15_000 },
      );
      const served = await (await fetch(`http://127.0.0.1:${port}/app-pg-${suffix}.yml`)).text();
      expect(served).toBe(readFileSync(join(root, 'dynamic', `app-pg-${suffix}.yml`), 'utf8'));
    }
    // A second pass changes nothing.
    expect(await proxies.sync()).toEqual({ created: [], started: [], removed: [], failed: [] });
  });

  it('tcp proxy - a killed proxy is started again by the pass its Docker event triggers', async () => {
    const watch = await watchStackEvents(docker, stack, proxies);
    try {
      const container = docker.getContainer(tcpProxyContainerName(stack, tlsPort));
      const before = await container.inspect();
      await container.kill();
      await waitFor(
        'the killed proxy running again',
        async () => {
          const info = await container.inspect();
          return info.State.Running && info.State.StartedAt !== before.State.StartedAt;
        },
        { timeoutMs: 30_000 },
      ).catch(async (error: unknown) => {
        const info = await container.inspect();
        throw new Error(`${String(error)}: ${JSON.stringify(info.State)} restarts ${info.RestartCount}`);
      });
      expect((await container.inspect()).Id).toBe(before.Id);
    } finally {
      watch.stop();
    }
  });

  it('tcp proxy - a port dropped is removed; a port moved to another app gets a container of that app', async () => {
    // Let a pass the kill scheduled finish first, so this one's report is only about the changes below.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await proxies.sync();
    await database.db.deleteFrom('app_tcp_ports').where('public_port', '=', plainPort).execute();
    await database.db
      .updateTable('app_tcp_ports')
      .set({ app_id: otherAppId })
      .where('public_port', '=', tlsPort)
      .execute();
    const report = await proxies.sync();
    expect(report?.removed.sort((a, b) => a - b)).toEqual([tlsPort, plainPort].sort((a, b) => a - b));
    expect(report?.created).toEqual([tlsPort]);
    await expect(
      docker.getContainer(tcpProxyContainerName(stack, plainPort)).inspect(),
    ).rejects.toMatchObject({
      statusCode: 404,
    });
    const moved = await docker.getContainer(tcpProxyContainerName(stack, tlsPort)).inspect();
    expect(moved.Config.Labels['gatehouse.app-id']).toBe(otherAppId);
  });
});

describe('tcp proxy - a port held by another process on the host', { timeout: 180_000 }, () => {
  const docker = createDockerClient(process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock');
  const stack = `test-tcp-held-${randomBytes(3).toString('hex')}`;
  let api: ApiHarness;
  let proxies: TcpProxies;
  let root: string;
  let holder: Server | undefined;

  beforeAll(async () => {
    const standInImage = await buildTcpProxyStandInImage(testImage);
    api = await startApiHarness('tcp_proxy_held');
    root = mkdtempSync(join(tmpdir(), 'gh-tcp-held-'));
    // The deployer's TCP proxies on the api's database, as in production (one Postgres).
    proxies = createTcpProxies({
      db: api.db,
      docker,
      logger,
      container: { stack, network: 'host', imagePull: 'never', pullTimeoutMs: 1_000 },
      proxy: { image: standInImage, dynamicSource: root, certsSource: root, certsPath: root },
      debounceMs: 100,
      recheckMs: 250,
    });
  });

  afterAll(async () => {
    holder?.close();
    await proxies?.stop();
    await removeStackContainers(docker, stack);
    await api?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('tcp proxy - the failure shows on the app (tcp[].status failed, port-in-use) and is announced once while Docker retries; freed, the proxy serves the port and the failure clears', async () => {
    const heldPort = await freePort();
    const held = createServer();
    holder = held;
    await new Promise<void>((resolve) => held.listen(heldPort, '127.0.0.1', resolve));

    const created = await api.call('POST', '/v1/apps', {
      body: {
        name: 'pg-held',
        image: 'postgres:17',
        port: 5432,
        domains: [],
        tcp: [{ publicPort: heldPort }],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.tcp).toEqual([
      { publicPort: heldPort, targetPort: null, tls: false, status: 'starting', error: null, since: null },
    ]);
    const portOnApp = async () =>
      (await api.call('GET', '/v1/apps/{name}', { params: { name: 'pg-held' } })).body.tcp[0];

    const watch = await watchStackEvents(docker, stack, proxies);
    try {
      await proxies.sync();
      const failing = await waitFor(
        'the held port shown failed on the app',
        async () => {
          const port = await portOnApp();
          return port.status === 'failed' && port;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(failing.error).toEqual({
        reason: 'port-in-use',
        message: `port ${heldPort} is in use on the host by another process; the proxy is retried and serves the port once it is free`,
      });
      expect(Date.parse(failing.since)).toBeGreaterThan(Date.now() - 60_000);

      // Retried all along (Docker's restart policy, and the passes), announced once.
      const container = docker.getContainer(tcpProxyContainerName(stack, heldPort));
      await waitFor(
        'docker restarting the proxy',
        async () => (await container.inspect()).RestartCount >= 2,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect((await portOnApp()).status).toBe('failed');
      const announced = await api.events('deployments.tcp-proxy-failed');
      expect(announced).toHaveLength(1);
      expect(announced[0]!.data).toEqual({
        appId: (
          await api.db.selectFrom('apps').select('id').where('name', '=', 'pg-held').executeTakeFirstOrThrow()
        ).id,
        appName: 'pg-held',
        publicPort: heldPort,
        reason: 'port-in-use',
        message: failing.error.message,
      });

      // The port frees up: the next restart binds it, and once the proxy has stayed up the failure clears.
      await new Promise<void>((resolve) => held.close(() => resolve()));
      holder = undefined;
      const recovered = await waitFor(
        'the proxy running on the freed port',
        async () => {
          const port = await portOnApp();
          return port.status === 'running' && port;
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      expect(recovered.error).toBeNull();
      // The stand-in serves proxy-config's directory on the entry point's port: the proxy holds the port now.
      expect((await fetch(`http://127.0.0.1:${heldPort}/`)).status).toBeLessThan(500);
      expect(await api.events('deployments.tcp-proxy-failed')).toHaveLength(1);
    } finally {
      watch.stop();
    }

    // A port the app drops leaves no state behind.
    const dropped = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'pg-held' },
      body: { tcp: [] },
    });
    expect(dropped.status).toBe(200);
    await proxies.sync();
    expect(await api.db.selectFrom('tcp_proxy_states').selectAll().execute()).toEqual([]);
  });
});
