import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certsIssued, createEvent, deploymentsStarted } from '@gatehouse/events';
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
import { validateTraefikConfig } from '../src/traefik/index.ts';

const masterKey = randomBytes(32);
const box = createSecretBox(masterKey);

function selfSigned(names: string[]): Promise<{ certPem: string; keyPem: string }> {
  return createSelfSignedCertificate({ commonName: names[0]!, dnsNames: names, days: 30 });
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((name) => !name.startsWith('.'))
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), 'utf8')]),
  );
}

/** The common name served for `servername` by the files the YAML references. */
async function handshake(certFile: string, keyFile: string, servername: string, trustPem: string) {
  return (await tlsHandshake({ certFile, keyFile }, servername, trustPem)).peer.subject.CN as string;
}

describe('proxy-config sync', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let root: string;
  const appId = randomUUID();
  const certificateId = randomUUID();
  const names = ['shop.test', 'www.shop.test'];

  async function startProxy(): Promise<ServiceProcess> {
    const healthPort = await freePort();
    const proxy = startServiceProcess('proxy-config', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      TRAEFIK_DYNAMIC_DIR: join(root, 'dynamic'),
      TRAEFIK_CERTS_DIR: join(root, 'certs'),
      GATEHOUSE_MASTER_KEY: masterKey.toString('base64'),
      EDGE_NODE: 'edge-test',
    });
    await waitFor(
      'proxy-config ready',
      async () =>
        (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000 },
    );
    return proxy;
  }

  async function storeCertificate(pair: { certPem: string; keyPem: string }) {
    await database.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('certificates')
        .set({
          chain_pem: pair.certPem,
          private_key_encrypted: box.seal(pair.keyPem, `certificate:${certificateId}`),
          status: 'valid',
          not_before: new Date(),
          not_after: new Date(Date.now() + 30 * 86_400_000),
        })
        .where('id', '=', certificateId)
        .execute();
      await enqueue(
        trx,
        createEvent(certsIssued, {
          source: 'test',
          subject: certificateId,
          data: {
            certificateId,
            names,
            issuer: 'test',
            serial: randomBytes(8).toString('hex'),
            notBefore: new Date().toISOString(),
            notAfter: new Date(Date.now() + 86_400_000).toISOString(),
          },
        }),
      );
    });
  }

  function appYaml() {
    return parse(readFileSync(join(root, 'dynamic', 'app-shop.yml'), 'utf8')) as {
      tls?: { certificates?: Array<{ certFile: string; keyFile: string }> };
    };
  }

  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('proxy'), startNatsServer()]);
    root = mkdtempSync(join(tmpdir(), 'gh-proxy-'));
    await database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('apps')
        .values({ id: appId, name: 'shop', image: 'gatehouse-test/busybox:1', port: 8080 })
        .execute();
      await trx
        .insertInto('domains')
        .values({
          id: randomUUID(),
          app_id: appId,
          hostname: 'shop.test',
          https: true,
          www: 'redirect-to-apex',
        })
        .execute();
      await trx
        .insertInto('certificates')
        .values({ id: certificateId, names, names_key: names.join(','), status: 'pending', source: 'acme' })
        .execute();
      await trx
        .insertInto('app_certificates')
        .values({ app_id: appId, certificate_id: certificateId })
        .execute();
      const deploymentId = randomUUID();
      await trx
        .insertInto('deployments')
        .values({
          id: deploymentId,
          app_id: appId,
          revision: 1,
          container_id: 'c1',
          status: 'running',
          upstream_host: '127.0.0.1',
          upstream_port: 18080,
        })
        .execute();
      await enqueue(
        trx,
        createEvent(deploymentsStarted, {
          source: 'test',
          subject: appId,
          data: {
            appId,
            deploymentId,
            containerId: 'c1',
            upstream: { host: '127.0.0.1', port: 18080 },
            revision: 1,
          },
        }),
      );
    });
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), nats?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  it('proxy - routable over HTTP at once, over HTTPS once the certificate exists; a renewal replaces the entry; an emptied directory is rebuilt byte for byte', async () => {
    const proxy = await startProxy();
    try {
      await waitFor('the app file', () => readdirSync(join(root, 'dynamic')).includes('app-shop.yml'));
      expect(validateTraefikConfig(appYaml() as never)).toEqual({ ok: true });
      expect(appYaml().tls?.certificates ?? []).toEqual([]);

      const first = await selfSigned(names);
      await storeCertificate(first);
      const listed = await waitFor(
        'the certificate listed',
        () => appYaml().tls?.certificates?.length === 1 && appYaml().tls!.certificates!,
      );
      expect(statSync(listed[0]!.keyFile).mode & 0o777).toBe(0o600);
      expect(await handshake(listed[0]!.certFile, listed[0]!.keyFile, 'shop.test', first.certPem)).toBe(
        'shop.test',
      );
      expect(await handshake(listed[0]!.certFile, listed[0]!.keyFile, 'www.shop.test', first.certPem)).toBe(
        'shop.test',
      );

      const renewed = await selfSigned(names);
      await storeCertificate(renewed);
      const replaced = await waitFor('the renewed certificate listed', () => {
        const entries = appYaml().tls?.certificates ?? [];
        return entries.length === 1 && entries[0]!.certFile !== listed[0]!.certFile && entries;
      });
      expect(readFileSync(replaced[0]!.certFile, 'utf8')).toBe(renewed.certPem);
      await waitFor(
        'the old PEM removed',
        () => !readdirSync(join(root, 'certs')).some((name) => listed[0]!.certFile.endsWith(name)),
      );
      const core = parse(readFileSync(join(root, 'dynamic', 'gatehouse-core.yml'), 'utf8'));
      expect(validateTraefikConfig(core)).toEqual({ ok: true });
    } finally {
      expect(await proxy.stop()).toBe(0);
    }

    const before = { dynamic: snapshot(join(root, 'dynamic')), certs: snapshot(join(root, 'certs')) };
    rmSync(join(root, 'dynamic'), { recursive: true });
    rmSync(join(root, 'certs'), { recursive: true });
    const again = await startProxy();
    try {
      await waitFor('the directory rebuilt', () => {
        try {
          // Temp files of an atomic write in progress are ignored; wait for the settled directory.
          const now = { dynamic: snapshot(join(root, 'dynamic')), certs: snapshot(join(root, 'certs')) };
          return JSON.stringify(now) === JSON.stringify(before);
        } catch {
          return false;
        }
      });
      expect({ dynamic: snapshot(join(root, 'dynamic')), certs: snapshot(join(root, 'certs')) }).toEqual(
        before,
      );
    } finally {
      await again.stop();
    }
  });
});
