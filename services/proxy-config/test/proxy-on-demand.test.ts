import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certsIssued, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { createSecretBox, createSelfSignedCertificate } from '@gatehouse/pki';
import { type ServiceProcess, startServiceProcess } from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  tlsHandshake,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CORE_FILE_NAME,
  ON_DEMAND_FILE_NAME,
  ON_DEMAND_TLS_PRIORITY,
  ON_DEMAND_TLS_ROUTER_NAME,
  ON_DEMAND_TLS_SERVICE_NAME,
  ON_DEMAND_UPSTREAM_SERVICE_NAME,
  onDemandRouterName,
  renderCoreConfig,
  renderOnDemandConfig,
  type TraefikDynamicConfig,
  validateTraefikConfig,
} from '../src/traefik/index.ts';

const defaultCertificate = { certFile: '/certs/default.crt', keyFile: '/certs/default.key' };

describe('on-demand TLS rendering', () => {
  it('traefik - the core file gets a priority-1 HostSNI(*) passthrough to the terminator, valid against the v3 schema', () => {
    const config = renderCoreConfig({
      http01ResponderUrl: 'http://127.0.0.1:8081',
      onDemandTerminator: 'cert-issuer:8443',
      defaultCertificate,
    });
    expect(validateTraefikConfig(config)).toEqual({ ok: true });
    expect(ON_DEMAND_TLS_PRIORITY).toBe(1);
    expect(config.tcp?.routers?.[ON_DEMAND_TLS_ROUTER_NAME]).toEqual({
      entryPoints: ['websecure'],
      rule: 'HostSNI(`*`)',
      priority: 1,
      service: ON_DEMAND_TLS_SERVICE_NAME,
      tls: { passthrough: true },
    });
    expect(config.tcp?.services?.[ON_DEMAND_TLS_SERVICE_NAME]).toEqual({
      loadBalancer: { servers: [{ address: 'cert-issuer:8443' }] },
    });
    // A negative priority (what "lowest" would naturally be) is refused by the schema: hence 1.
    const negative = structuredClone(config) as TraefikDynamicConfig;
    negative.tcp!.routers![ON_DEMAND_TLS_ROUTER_NAME]!.priority = -1;
    expect(validateTraefikConfig(negative).ok).toBe(false);
  });

  it('traefik - without a terminator the core file has no TCP section', () => {
    const config = renderCoreConfig({ http01ResponderUrl: 'http://127.0.0.1:8081', defaultCertificate });
    expect(config.tcp).toBeUndefined();
  });

  it('traefik - the on-demand file has an HTTPS router and certificate per host, and refuses names that could break a rule', () => {
    const config = renderOnDemandConfig({
      upstreamUrl: 'http://sites:8080',
      hosts: [
        { hostname: 'b.example.com', certificate: { certFile: '/c/b.crt', keyFile: '/c/b.key' } },
        { hostname: 'a.example.com', certificate: { certFile: '/c/a.crt', keyFile: '/c/a.key' } },
      ],
    });
    expect(validateTraefikConfig(config)).toEqual({ ok: true });
    expect(config.http?.routers?.[onDemandRouterName('a.example.com')]).toEqual({
      entryPoints: ['websecure'],
      rule: 'Host(`a.example.com`)',
      service: ON_DEMAND_UPSTREAM_SERVICE_NAME,
      tls: {},
    });
    expect(config.tls?.certificates?.map((entry) => entry.certFile)).toEqual(['/c/a.crt', '/c/b.crt']);
    expect(
      validateTraefikConfig(renderOnDemandConfig({ upstreamUrl: 'http://sites:8080', hosts: [] })),
    ).toEqual({
      ok: true,
    });
    expect(() =>
      renderOnDemandConfig({
        upstreamUrl: 'http://sites:8080',
        hosts: [{ hostname: 'a`) || Host(`b', certificate: { certFile: '/x', keyFile: '/y' } }],
      }),
    ).toThrow(/not a lower-case ASCII host name/);
  });
});

describe('proxy-config on-demand hosts', { timeout: 120_000 }, () => {
  const masterKey = randomBytes(32);
  const box = createSecretBox(masterKey);
  let database: TestDatabase;
  let nats: TestNatsServer;
  let proxy: ServiceProcess | undefined;
  let root: string;

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
    [database, nats] = await Promise.all([createTestDatabase('proxy_on_demand'), startNatsServer()]);
    root = mkdtempSync(join(tmpdir(), 'gh-proxy-od-'));
    const healthPort = await freePort();
    proxy = startServiceProcess('proxy-config', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      TRAEFIK_DYNAMIC_DIR: join(root, 'dynamic'),
      TRAEFIK_CERTS_DIR: join(root, 'certs'),
      GATEHOUSE_MASTER_KEY: masterKey.toString('base64'),
      EDGE_NODE: 'edge-od',
      ON_DEMAND_TLS_UPSTREAM: '127.0.0.1:8443',
      ON_DEMAND_UPSTREAM_URL: 'http://127.0.0.1:18080',
    });
    await waitFor(
      'proxy-config ready',
      async () =>
        (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000 },
    ).catch((error) => {
      throw new Error(`proxy-config did not become ready:\n${proxy?.output()}`, { cause: error });
    });
  });
  afterAll(async () => {
    if (proxy) expect(await proxy.stop()).toBe(0);
    await Promise.all([database?.drop(), nats?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  it('proxy - the core file routes unknown names to the terminator; an issued on-demand host gets its own router and certificate', async () => {
    const core = await waitFor('core file written', () => readYaml(CORE_FILE_NAME));
    expect(core.tcp?.routers?.[ON_DEMAND_TLS_ROUTER_NAME]?.rule).toBe('HostSNI(`*`)');
    expect(core.tcp?.services?.[ON_DEMAND_TLS_SERVICE_NAME]?.loadBalancer.servers).toEqual([
      { address: '127.0.0.1:8443' },
    ]);
    expect(readYaml(ON_DEMAND_FILE_NAME)?.http).toBeUndefined();

    // What cert-issuer's terminator and issuance do for an allowed name: the rows, then `certs.issued`.
    const host = 'first.od.test';
    const certificateId = randomUUID();
    const pair = await createSelfSignedCertificate({ commonName: host, dnsNames: [host], days: 30 });
    await database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('certificates')
        .values({
          id: certificateId,
          names: [host],
          names_key: host,
          status: 'valid',
          source: 'acme',
          chain_pem: pair.certPem,
          private_key_encrypted: box.seal(pair.keyPem, `certificate:${certificateId}`),
          not_before: new Date(),
          not_after: new Date(Date.now() + 30 * 86_400_000),
        })
        .execute();
      await trx
        .insertInto('on_demand_hosts')
        .values({ hostname: host, certificate_id: certificateId })
        .execute();
      await enqueue(
        trx,
        createEvent(certsIssued, {
          source: 'test',
          subject: certificateId,
          data: {
            certificateId,
            names: [host],
            issuer: 'https://ca.test/dir',
            serial: '01',
            notBefore: new Date().toISOString(),
            notAfter: new Date(Date.now() + 30 * 86_400_000).toISOString(),
          },
        }),
      );
    });
    const file = await waitFor('on-demand router written', () => {
      const yaml = readYaml(ON_DEMAND_FILE_NAME);
      return yaml?.http?.routers?.[onDemandRouterName(host)] ? yaml : undefined;
    });
    expect(file.http?.routers?.[onDemandRouterName(host)]?.rule).toBe(`Host(\`${host}\`)`);
    expect(file.http?.services?.[ON_DEMAND_UPSTREAM_SERVICE_NAME]?.loadBalancer.servers).toEqual([
      { url: 'http://127.0.0.1:18080' },
    ]);
    const entry = file.tls!.certificates![0]!;
    expect(statSync(entry.keyFile).mode & 0o777).toBe(0o600);
    const served = await tlsHandshake(entry, host, pair.certPem);
    expect(served.peer.fingerprint256).toBe(new X509Certificate(pair.certPem).fingerprint256);
  });
});
