import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import {
  type CertIssuerProcess,
  masterKey,
  type ReadyServiceProcess,
  startCertIssuer,
  startReadyService,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  tlsHandshake,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CORE_FILE_NAME,
  ON_DEMAND_FILE_NAME,
  ON_DEMAND_TLS_ROUTER_NAME,
  ON_DEMAND_TLS_SERVICE_NAME,
  onDemandRouterName,
  type TraefikDynamicConfig,
  validateTraefikConfig,
} from '../services/proxy-config/src/traefik/index.ts';

/**
 * On-demand TLS across services: the first handshake for an allowed name goes through cert-issuer's terminator
 * (what Traefik's HostSNI(*) passthrough sends there) and gets a Pebble certificate; `certs.issued` then makes
 * proxy-config write a normal router and that certificate for the name, so later connections are Traefik's.
 */
describe('on-demand TLS end to end', { timeout: 240_000 }, () => {
  const host = `allowed-e2e-${Math.random().toString(36).slice(2, 8)}.test`;
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let issuer: CertIssuerProcess;
  let proxy: ReadyServiceProcess;
  let ask: Server;
  let root: string;
  let terminatorPort: number;

  function readYaml(name: string): TraefikDynamicConfig | undefined {
    try {
      const yaml = parse(readFileSync(join(root, 'dynamic', name), 'utf8')) as TraefikDynamicConfig;
      expect(validateTraefikConfig(yaml)).toEqual({ ok: true });
      return yaml ?? {};
    } catch {
      return undefined;
    }
  }

  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('on_demand_e2e'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    ask = createHttpServer((request, response) => {
      const domain = new URL(request.url ?? '/', 'http://ask').searchParams.get('domain');
      response.statusCode = domain === host ? 204 : 403;
      response.end();
    });
    await new Promise<void>((resolve) => ask.listen(0, '127.0.0.1', resolve));
    terminatorPort = await freePort();
    root = mkdtempSync(join(tmpdir(), 'gh-od-e2e-'));
    [issuer, proxy] = await Promise.all([
      startCertIssuer({
        database,
        nats,
        pebbles: [pebble],
        http01Port,
        env: {
          ON_DEMAND_TLS_LISTEN: `127.0.0.1:${terminatorPort}`,
          ON_DEMAND_ASK_URL: `http://127.0.0.1:${(ask.address() as { port: number }).port}/`,
          ON_DEMAND_UPSTREAM: '127.0.0.1:9',
          ON_DEMAND_HANDSHAKE_TIMEOUT: '90s',
        },
      }),
      startReadyService('proxy-config', {
        DATABASE_URL: database.url,
        NATS_URL: nats.url,
        TRAEFIK_DYNAMIC_DIR: join(root, 'dynamic'),
        TRAEFIK_CERTS_DIR: join(root, 'certs'),
        GATEHOUSE_MASTER_KEY: masterKey,
        EDGE_NODE: 'edge-od-e2e',
        ON_DEMAND_TLS_UPSTREAM: `127.0.0.1:${terminatorPort}`,
        ON_DEMAND_UPSTREAM_URL: 'http://127.0.0.1:18080',
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([issuer?.stop(), proxy?.stop()]);
    ask?.close();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('on-demand e2e - first handshake through the terminator, then a Traefik router and the same Pebble certificate for the name', async () => {
    const core = await waitFor('core file written', () => readYaml(CORE_FILE_NAME));
    expect(core.tcp?.routers?.[ON_DEMAND_TLS_ROUTER_NAME]?.service).toBe(ON_DEMAND_TLS_SERVICE_NAME);
    expect(core.tcp?.services?.[ON_DEMAND_TLS_SERVICE_NAME]?.loadBalancer.servers).toEqual([
      { address: `127.0.0.1:${terminatorPort}` },
    ]);

    const rootPem = await pebble.rootPem();
    const first = await new Promise<{ authorized: boolean; peer: PeerCertificate }>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: terminatorPort, servername: host, ca: rootPem },
        () => {
          resolve({ authorized: socket.authorized, peer: socket.getPeerCertificate() });
          socket.destroy();
        },
      );
      socket.on('error', reject);
    }).catch((error) => {
      throw new Error(`handshake failed: ${error}\n${issuer.output().slice(-3000)}`);
    });
    expect(first.authorized).toBe(true);

    const file = await waitFor(
      'on-demand router written',
      () => {
        const yaml = readYaml(ON_DEMAND_FILE_NAME);
        return yaml?.http?.routers?.[onDemandRouterName(host)] ? yaml : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch((error) => {
      throw new Error(`no router:\n${proxy.output().slice(-3000)}`, { cause: error });
    });
    expect(file.http?.routers?.[onDemandRouterName(host)]?.rule).toBe(`Host(\`${host}\`)`);
    // What Traefik would serve for the name from then on: the same Pebble certificate, trusted from Pebble's root.
    const later = await tlsHandshake(file.tls!.certificates![0]!, host, rootPem);
    expect(later.authorized).toBe(true);
    expect(later.peer.serialNumber).toBe(first.peer.serialNumber);
  });
});
