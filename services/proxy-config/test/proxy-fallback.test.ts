import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, settingKeys } from '@gatehouse/db';
import {
  certsFallbackActivated,
  certsFallbackChanged,
  certsIssued,
  certsUploaded,
  createEvent,
} from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { createSecretBox, createSelfSignedCertificate, type PemPair } from '@gatehouse/pki';
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
import type { Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateTraefikConfig } from '../src/traefik/index.ts';

/**
 * Issue 5, proxy side: what proxy-config lists for an app's https names as its certificate goes through
 * expiry, the self-signed fallback, the operator's fallback wildcard, a successful renewal and an uploaded
 * custom certificate. The producers' rows are inserted directly; the events are the real contracts through
 * the outbox and JetStream; what is served is proven by a TLS handshake from the referenced files.
 */

const masterKey = randomBytes(32);
const box = createSecretBox(masterKey);
const host = 'site.fb.test';

function certificate(names: string[], days = 30): Promise<PemPair> {
  return createSelfSignedCertificate({ commonName: names[0]!, dnsNames: names, days });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

interface Entry {
  certFile: string;
  keyFile: string;
}

/** Completes a TLS handshake for `servername` against a server built from one referenced entry. */
async function handshake(entry: Entry, servername: string, trustPem: string): Promise<string> {
  return (await tlsHandshake(entry, servername, trustPem)).peer.fingerprint256;
}

describe('proxy-config fallback and custom certificates', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let proxy: ServiceProcess | undefined;
  let root: string;
  const appId = randomUUID();
  const acmeId = randomUUID();
  let firstPair: PemPair;

  /** The entries the app file lists; the test fails on any entry a second time for one name. */
  function listed(): Entry[] {
    try {
      const yaml = parse(readFileSync(join(root, 'dynamic', 'app-site.yml'), 'utf8'));
      expect(validateTraefikConfig(yaml)).toEqual({ ok: true });
      return (yaml as { tls?: { certificates?: Entry[] } }).tls?.certificates ?? [];
    } catch {
      return [];
    }
  }

  /** Waits until exactly one listed certificate covers `host` and it is `expected`; returns its entry. */
  async function waitUntilServed(expected: PemPair, what: string): Promise<Entry> {
    const want = fingerprint(expected.certPem);
    const entry = await waitFor(what, () => {
      const covering = listed().filter((e) => new X509Certificate(readFileSync(e.certFile)).checkHost(host));
      return covering.length === 1 && fingerprint(readFileSync(covering[0]!.certFile, 'utf8')) === want
        ? covering[0]
        : undefined;
    });
    expect(statSync(entry.keyFile).mode & 0o777).toBe(0o600);
    // A real handshake for the name, verified against the expected certificate only.
    expect(await handshake(entry, host, expected.certPem)).toBe(want);
    return entry;
  }

  async function inTransaction(work: (trx: Transaction<Database>) => Promise<void>) {
    await database.db.transaction().execute(work);
  }

  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('proxy_fallback'), startNatsServer()]);
    root = mkdtempSync(join(tmpdir(), 'gh-proxy-fb-'));
    // No event for the app itself: the start pass writes it, so every later change is seen only through
    // the certificate event under test (a late app event would re-read the row and hide a missing consumer).
    const first = await certificate([host]);
    firstPair = first;
    await inTransaction(async (trx) => {
      await trx
        .insertInto('apps')
        .values({ id: appId, name: 'site', image: 'gatehouse-test/busybox:1', port: 8080 })
        .execute();
      await trx
        .insertInto('domains')
        .values({ id: randomUUID(), app_id: appId, hostname: host, https: true, www: 'none' })
        .execute();
      await trx
        .insertInto('certificates')
        .values({
          id: acmeId,
          names: [host],
          names_key: host,
          status: 'valid',
          source: 'acme',
          chain_pem: first.certPem,
          private_key_encrypted: box.seal(first.keyPem, `certificate:${acmeId}`),
          not_before: new Date(),
          not_after: new Date(Date.now() + 30 * 86_400_000),
        })
        .execute();
      await trx.insertInto('app_certificates').values({ app_id: appId, certificate_id: acmeId }).execute();
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
    });
    const healthPort = await freePort();
    proxy = startServiceProcess('proxy-config', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      TRAEFIK_DYNAMIC_DIR: join(root, 'dynamic'),
      TRAEFIK_CERTS_DIR: join(root, 'certs'),
      GATEHOUSE_MASTER_KEY: masterKey.toString('base64'),
      EDGE_NODE: 'edge-fb',
    });
    await waitFor(
      'proxy-config ready',
      async () =>
        (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000 },
    );
  });
  afterAll(async () => {
    if (proxy) expect(await proxy.stop()).toBe(0);
    await Promise.all([database?.drop(), nats?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  it('proxy - expired ACME certificate → self-signed fallback; operator wildcard → served instead; renewal → the new certificate; custom certificate → wins over ACME', async () => {
    await waitUntilServed(firstPair, 'the ACME certificate served');

    // renewal-scheduler gives up: the certificate has expired, a self-signed stand-in is stored on the row.
    const selfSigned = await certificate([host], 7);
    await inTransaction(async (trx) => {
      await trx
        .updateTable('certificates')
        .set({
          status: 'fallback',
          not_after: new Date(Date.now() - 60_000),
          fallback_chain_pem: selfSigned.certPem,
          fallback_key_encrypted: box.seal(selfSigned.keyPem, `certificate:${acmeId}`),
          fallback_activated_at: new Date(),
        })
        .where('id', '=', acmeId)
        .execute();
      await enqueue(
        trx,
        createEvent(certsFallbackActivated, {
          source: 'test',
          subject: acmeId,
          data: { certificateId: acmeId, names: [host], fallback: 'self-signed', reason: 'expired' },
        }),
      );
    });
    await waitUntilServed(selfSigned, 'the self-signed fallback served');

    // The operator uploads a wildcard and names it the fallback certificate.
    const wildcardId = randomUUID();
    const wildcard = await certificate(['*.fb.test']);
    await inTransaction(async (trx) => {
      await trx
        .insertInto('certificates')
        .values({
          id: wildcardId,
          names: ['*.fb.test'],
          names_key: '*.fb.test',
          status: 'valid',
          source: 'custom',
          chain_pem: wildcard.certPem,
          private_key_encrypted: box.seal(wildcard.keyPem, `certificate:${wildcardId}`),
          not_after: new Date(Date.now() + 90 * 86_400_000),
        })
        .execute();
      await trx
        .insertInto('settings')
        .values({ key: settingKeys.fallbackCertificateId, value: JSON.stringify(wildcardId) })
        .execute();
      await enqueue(
        trx,
        createEvent(certsUploaded, {
          source: 'test',
          subject: wildcardId,
          data: {
            certificateId: wildcardId,
            names: ['*.fb.test'],
            notAfter: new Date(Date.now() + 90 * 86_400_000).toISOString(),
          },
        }),
      );
    });
    await waitUntilServed(wildcard, "the operator's fallback wildcard served");
    expect(listed()).toHaveLength(1);

    // A renewal finally succeeds: cert-issuer stores the new chain and status valid.
    const renewed = await certificate([host]);
    await inTransaction(async (trx) => {
      await trx
        .updateTable('certificates')
        .set({
          status: 'valid',
          chain_pem: renewed.certPem,
          private_key_encrypted: box.seal(renewed.keyPem, `certificate:${acmeId}`),
          not_before: new Date(),
          not_after: new Date(Date.now() + 30 * 86_400_000),
        })
        .where('id', '=', acmeId)
        .execute();
      await enqueue(
        trx,
        createEvent(certsIssued, {
          source: 'test',
          subject: acmeId,
          data: {
            certificateId: acmeId,
            names: [host],
            issuer: 'test',
            serial: randomBytes(8).toString('hex'),
            notBefore: new Date().toISOString(),
            notAfter: new Date(Date.now() + 30 * 86_400_000).toISOString(),
          },
        }),
      );
    });
    const renewedEntry = await waitUntilServed(renewed, 'the renewed certificate served');
    // The fallback entries are gone, not listed beside it; their PEM files are removed.
    expect(listed()).toEqual([renewedEntry]);
    const selfSignedFile = join(root, 'certs', pemFileNameOf(selfSigned));
    await waitFor('the fallback PEM removed', () => !existsSync(selfSignedFile));

    // The fallback setting changes without any certificate event: certs.fallback-changed alone makes the node
    // choose again at once (the periodic full pass is 15 min away). Cleared, the wildcard is a plain upload and
    // wins over ACME under its domain; named the fallback again, it is held back and the ACME one returns.
    const fallbackChanged = (certificateId: string | null) =>
      createEvent(certsFallbackChanged, {
        source: 'test',
        subject: certificateId ?? 'none',
        data: { certificateId },
      });
    await inTransaction(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', settingKeys.fallbackCertificateId).execute();
      await enqueue(trx, fallbackChanged(null));
    });
    await waitUntilServed(wildcard, 'the wildcard as a plain upload once it is no longer the fallback');
    await inTransaction(async (trx) => {
      await trx
        .insertInto('settings')
        .values({ key: settingKeys.fallbackCertificateId, value: JSON.stringify(wildcardId) })
        .execute();
      await enqueue(trx, fallbackChanged(wildcardId));
    });
    await waitUntilServed(
      renewed,
      'the renewed ACME certificate again once the wildcard is the fallback again',
    );

    // An operator uploads a custom certificate for the name: it wins over the ACME one.
    const customId = randomUUID();
    const custom = await certificate([host], 60);
    await inTransaction(async (trx) => {
      await trx
        .insertInto('certificates')
        .values({
          id: customId,
          names: [host],
          names_key: `custom:${host}`,
          status: 'valid',
          source: 'custom',
          chain_pem: custom.certPem,
          private_key_encrypted: box.seal(custom.keyPem, `certificate:${customId}`),
          not_after: new Date(Date.now() + 60 * 86_400_000),
        })
        .execute();
      await enqueue(
        trx,
        createEvent(certsUploaded, {
          source: 'test',
          subject: customId,
          data: {
            certificateId: customId,
            names: [host],
            notAfter: new Date(Date.now() + 60 * 86_400_000).toISOString(),
          },
        }),
      );
    });
    await waitUntilServed(custom, 'the custom certificate served');
    expect(listed()).toHaveLength(1);
  });
});

/** The certificate's PEM file name as proxy-config content-addresses it (sha256 prefix), computed here. */
function pemFileNameOf(pair: PemPair): string {
  return `${createHash('sha256').update(pair.certPem).digest('hex').slice(0, 32)}.crt`;
}
