import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { connect, type PeerCertificate } from 'node:tls';
import { createSecretBox, createSelfSignedCertificate } from '@gatehouse/pki';
import {
  type CertIssuerProcess,
  masterKey,
  startCertIssuer,
  startServiceProcess,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);
const name = (label: string) => `${label}-${suffix}.test`;

/** The operator's ask endpoint: allows names starting with `allowed-`, counts every request per name. */
function startAskServer(): Promise<{ server: HttpServer; url: string; asked: Map<string, number> }> {
  const asked = new Map<string, number>();
  const server = createHttpServer((request, response) => {
    const domain = new URL(request.url ?? '/', 'http://ask').searchParams.get('domain') ?? '';
    asked.set(domain, (asked.get(domain) ?? 0) + 1);
    response.statusCode = domain.startsWith('allowed-') ? 200 : 403;
    response.end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/ask`, asked }),
    ),
  );
}

/** The on-demand upstream: echoes what it receives prefixed with `upstream:`, so the test sees the proxying. */
function startEchoUpstream(): Promise<{ server: TcpServer; port: number }> {
  const server = createTcpServer((socket) => {
    socket.on('data', (chunk) => socket.write(`upstream:${chunk.toString()}`));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  );
}

interface Handshake {
  authorized: boolean;
  peer: PeerCertificate;
  echoed: string;
}

/** A real TLS client: connects with SNI `servername`, trusting only Pebble's root, sends one line. */
function handshake(port: number, servername: string, rootPem: string): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca: rootPem }, () => {
      const authorized = socket.authorized;
      const peer = socket.getPeerCertificate();
      socket.once('data', (chunk) => {
        resolve({ authorized, peer, echoed: chunk.toString() });
        socket.end();
      });
      socket.write('ping');
    });
    socket.setTimeout(120_000, () => socket.destroy(new Error('no answer')));
    socket.on('error', reject);
  });
}

describe('on-demand TLS', { timeout: 300_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let issuer: CertIssuerProcess;
  let replica: CertIssuerProcess;
  let ask: Awaited<ReturnType<typeof startAskServer>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let terminatorPort: number;
  let replicaPort: number;
  let rootPem: string;

  function onDemandEnv(port: number, extra: Record<string, string> = {}) {
    return {
      ON_DEMAND_TLS_LISTEN: `127.0.0.1:${port}`,
      ON_DEMAND_ASK_URL: ask.url,
      ON_DEMAND_UPSTREAM: `127.0.0.1:${upstream.port}`,
      ON_DEMAND_HANDSHAKE_TIMEOUT: '90s',
      ...extra,
    };
  }

  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble, ask, upstream] = await Promise.all([
      createTestDatabase('on_demand_tls'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
      startAskServer(),
      startEchoUpstream(),
    ]);
    rootPem = await pebble.rootPem();
    terminatorPort = await freePort();
    replicaPort = await freePort();
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: onDemandEnv(terminatorPort),
    });
    // A second replica on the same database, with a global limit of three new on-demand certificates an hour.
    replica = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      env: onDemandEnv(replicaPort, { ON_DEMAND_MAX_PER_HOUR: '3' }),
    });
  });
  afterAll(async () => {
    // A clean stop: the terminator closes with the service (exit 0), held handshakes or not.
    expect(await Promise.all([issuer?.stop(), replica?.stop()])).toEqual([0, 0]);
    ask?.server.close();
    upstream?.server.close();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  async function ordersFor(hostname: string) {
    return database.db
      .selectFrom('orders')
      .innerJoin('certificates', 'certificates.id', 'orders.certificate_id')
      .select(['orders.id', 'orders.status'])
      .where('certificates.names_key', '=', hostname)
      .execute();
  }

  async function certificatesFor(hostname: string) {
    return database.db
      .selectFrom('certificates')
      .select(['id', 'status'])
      .where('names_key', '=', hostname)
      .execute();
  }

  it('on-demand TLS - an allowed name gets a Pebble certificate at its first handshake, then goes to the upstream', async () => {
    const host = name('allowed-first');
    const result = await handshake(terminatorPort, host, rootPem).catch((error) => {
      throw new Error(`handshake failed: ${error}\n${issuer.output().slice(-4000)}`);
    });
    expect(result.authorized).toBe(true);
    expect(result.peer.subjectaltname).toBe(`DNS:${host}`);
    expect(result.echoed).toBe('upstream:ping');
    expect(ask.asked.get(host)).toBe(1);
    expect(await ordersFor(host)).toHaveLength(1);
    const hosts = await database.db
      .selectFrom('on_demand_hosts')
      .selectAll()
      .where('hostname', '=', host)
      .execute();
    expect(hosts).toHaveLength(1);

    // The second connection is served from the stored certificate: no new ask, no new order.
    const again = await handshake(terminatorPort, host, rootPem);
    expect(again.authorized).toBe(true);
    expect(again.peer.serialNumber).toBe(result.peer.serialNumber);
    expect(ask.asked.get(host)).toBe(1);
    expect(await ordersFor(host)).toHaveLength(1);
  });

  it('on-demand TLS - a denied name fails the handshake, places no order, and is not asked about again (cache)', async () => {
    const host = name('denied');
    await expect(handshake(terminatorPort, host, rootPem)).rejects.toThrow();
    await expect(handshake(terminatorPort, host, rootPem)).rejects.toThrow();
    expect(ask.asked.get(host)).toBe(1);
    expect(await certificatesFor(host)).toEqual([]);
    expect(await ordersFor(host)).toEqual([]);
  });

  it('on-demand TLS - internal names and IP addresses are refused without asking', async () => {
    await expect(handshake(terminatorPort, `app-${suffix}.internal`, rootPem)).rejects.toThrow();
    await expect(handshake(terminatorPort, `allowed-${suffix}.localhost`, rootPem)).rejects.toThrow();
    expect(ask.asked.has(`app-${suffix}.internal`)).toBe(false);
    expect(ask.asked.has(`allowed-${suffix}.localhost`)).toBe(false);
  });

  it('on-demand TLS - 20 concurrent first handshakes for one name make one ask and one order', async () => {
    const host = name('allowed-crowd');
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => handshake(terminatorPort, host, rootPem)),
    );
    const succeeded = results.filter((result) => result.status === 'fulfilled');
    expect(succeeded, issuer.output().slice(-3000)).toHaveLength(20);
    for (const result of succeeded) expect(result.value.authorized).toBe(true);
    expect(new Set(succeeded.map((result) => result.value.peer.serialNumber)).size).toBe(1);
    expect(ask.asked.get(host)).toBe(1);
    expect(await certificatesFor(host)).toHaveLength(1);
    expect(await ordersFor(host)).toHaveLength(1);
  });

  it('on-demand TLS - concurrent first handshakes on two replicas make one certificate and one order', async () => {
    const host = name('allowed-replicas');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) =>
        handshake(index % 2 === 0 ? terminatorPort : replicaPort, host, rootPem),
      ),
    );
    const succeeded = results.filter((result) => result.status === 'fulfilled');
    expect(succeeded, `${issuer.output().slice(-2000)}\n${replica.output().slice(-2000)}`).toHaveLength(10);
    expect(new Set(succeeded.map((result) => result.value.peer.serialNumber)).size).toBe(1);
    // Each replica asks at most once (its own in-process coalescing); Postgres makes the one certificate.
    expect(ask.asked.get(host)).toBeLessThanOrEqual(2);
    expect(await certificatesFor(host)).toHaveLength(1);
    expect(await ordersFor(host)).toHaveLength(1);
  });

  it('on-demand TLS - past the global hourly limit an allowed name is refused and nothing is ordered', async () => {
    // Three on-demand certificates exist from the tests above; the replica allows three an hour.
    const { count } = await database.db
      .selectFrom('on_demand_hosts')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(3);
    const host = name('allowed-over-limit');
    await expect(handshake(replicaPort, host, rootPem)).rejects.toThrow();
    expect(ask.asked.get(host)).toBe(1);
    expect(await certificatesFor(host)).toEqual([]);
    await waitFor('global limit refusal logged', () =>
      replica.output().includes('"reason":"global-rate-limited"'),
    );
  });

  it('on-demand TLS - an app domain is never on demand: refused without asking', async () => {
    const host = name('allowed-app');
    const appId = randomUUID();
    await database.db
      .insertInto('apps')
      .values({ id: appId, name: `app-${suffix}`, image: 'gatehouse-test/busybox:1', port: 8080 })
      .execute();
    await database.db
      .insertInto('domains')
      .values({ id: randomUUID(), app_id: appId, hostname: host, https: true })
      .execute();
    await expect(handshake(terminatorPort, host, rootPem)).rejects.toThrow();
    expect(ask.asked.has(host)).toBe(false);
    // The refusal is logged with its reason (the log line may land just after the failed handshake).
    await waitFor('app-domain refusal logged', () => issuer.output().includes('"reason":"app-domain"'));
  });

  it('on-demand TLS - an allowed name with an ACME certificate of its own already adopts it: served, no order', async () => {
    const host = name('allowed-adopt');
    const id = randomUUID();
    const pair = await createSelfSignedCertificate({ commonName: host, dnsNames: [host], days: 30 });
    await database.db
      .insertInto('certificates')
      .values({
        id,
        names: [host],
        names_key: host,
        status: 'valid',
        source: 'acme',
        chain_pem: pair.certPem,
        private_key_encrypted: createSecretBox(Buffer.from(masterKey, 'base64')).seal(
          pair.keyPem,
          `certificate:${id}`,
        ),
        not_before: new Date(),
        not_after: new Date(Date.now() + 30 * 86_400_000),
      })
      .execute();
    const result = await handshake(terminatorPort, host, pair.certPem);
    expect(result.authorized).toBe(true);
    expect(ask.asked.get(host)).toBe(1);
    expect(await ordersFor(host)).toEqual([]);
    const linked = await database.db
      .selectFrom('on_demand_hosts')
      .select('certificate_id')
      .where('hostname', '=', host)
      .executeTakeFirstOrThrow();
    expect(linked.certificate_id).toBe(id);
  });

  it('on-demand TLS - past the bounded wait the handshake fails cleanly, issuance goes on, and the next handshake is served without asking', async () => {
    const port = await freePort();
    const impatient = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      env: onDemandEnv(port, { ON_DEMAND_HANDSHAKE_TIMEOUT: '0ms' }),
    });
    try {
      const host = name('allowed-impatient');
      await expect(handshake(port, host, rootPem)).rejects.toThrow();
      await waitFor('timeout refusal logged', () =>
        impatient.output().includes('"reason":"handshake-timeout"'),
      );
      const [certificate] = await certificatesFor(host);
      await waitFor(
        'issued after the handshake gave up',
        async () =>
          (
            await database.db
              .selectFrom('certificates')
              .select('status')
              .where('id', '=', certificate!.id)
              .executeTakeFirst()
          )?.status === 'valid',
        { timeoutMs: 60_000 },
      );
      const later = await handshake(port, host, rootPem);
      expect(later.authorized).toBe(true);
      expect(ask.asked.get(host)).toBe(1);
      expect(await ordersFor(host)).toHaveLength(1);
    } finally {
      expect(await impatient.stop()).toBe(0);
    }
  });

  it('on-demand TLS - a listener without ON_DEMAND_ASK_URL refuses to start with a configuration error', async () => {
    const child = startServiceProcess('cert-issuer', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      HEALTH_LISTEN: `127.0.0.1:${await freePort()}`,
      HTTP01_LISTEN: `127.0.0.1:${await freePort()}`,
      GATEHOUSE_MASTER_KEY: masterKey,
      ACME_DIRECTORY_URL: pebble.directoryUrl,
      ON_DEMAND_TLS_LISTEN: `127.0.0.1:${await freePort()}`,
      ON_DEMAND_UPSTREAM: `127.0.0.1:${upstream.port}`,
    });
    expect(await child.exited).toBe(78);
    expect(child.output()).toContain('ON_DEMAND_ASK_URL: required when ON_DEMAND_TLS_LISTEN is set');
  });
});
