// Local CA end to end (issue 15): the api (in-process, the real HTTP app) and a real cert-issuer process share a
// test database and NATS. An app with https://app.internal gets a certificate that a TLS client trusting only
// the served root accepts; a renewal signs a new leaf; an intermediate past 2/3 of its life is replaced.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '@gatehouse/db';
import { certificateKeyContext, createSecretBox, splitCertificateChain } from '@gatehouse/pki';
import {
  announceRenewalDue,
  type CertIssuerProcess,
  masterKey,
  startCertIssuer,
} from '@gatehouse/service-harness';
import { createLogger } from '@gatehouse/telemetry';
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
import { createApiApp } from '../services/api/src/http/app.ts';
import { currentLocalCaSigner } from '../services/cert-issuer/src/local-ca/local-ca-store.ts';

const token = 'l'.repeat(40);
const box = createSecretBox(Buffer.from(masterKey, 'base64'));

describe('local CA', { timeout: 180_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let issuer: CertIssuerProcess;
  let server: Server;
  let base: string;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-local-ca-'));

  beforeAll(async () => {
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('local_ca'),
      startNatsServer(),
      startPebble({ httpPort: await freePort() }),
    ]);
    issuer = await startCertIssuer({ database, nats, pebbles: [pebble] });
    const app = createApiApp({
      token,
      logger: createLogger({ service: 'api-test', level: 'silent' }),
      db: database.db,
      box,
    });
    server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    server?.close();
    await issuer?.stop();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });

  async function waitForSerial(id: string, notSerial: string | null) {
    return waitFor(
      `certificate ${id} valid with a new serial`,
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== notSerial && row;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch(async (error) => {
      const row = await certificateRow(database.db, id);
      throw new Error(
        `status ${row.status}, error ${row.last_error_message}\n${issuer.output().slice(-3000)}`,
        {
          cause: error,
        },
      );
    });
  }

  /** A real handshake for `servername` with the stored chain and key, trusting only `rootPem`. */
  async function handshakeWith(
    row: { id: string; chain_pem: string | null; private_key_encrypted: string | null },
    rootPem: string,
    servername = 'app.internal',
  ) {
    const certFile = join(dir, `${row.id}-${Date.now()}.crt`);
    const keyFile = join(dir, `${row.id}-${Date.now()}.key`);
    writeFileSync(certFile, row.chain_pem!);
    writeFileSync(keyFile, box.openText(row.private_key_encrypted!, certificateKeyContext(row.id)));
    return tlsHandshake({ certFile, keyFile }, servername, rootPem);
  }

  /** Asks for a renewal as renewal-scheduler does once `renew_at` has passed. */
  async function renew(id: string, names: string[]) {
    await announceRenewalDue(
      database.db,
      { id, names },
      { reason: 'lifetime', set: { renew_at: new Date(Date.now() - 1000), status: 'renewing' } },
    );
  }

  async function sourcesOf(certificates: ReadonlyArray<{ id: string }>) {
    const rows = await database.db
      .selectFrom('certificates')
      .select('source')
      .where(
        'id',
        'in',
        certificates.map((c) => c.id),
      )
      .execute();
    return rows.map((row) => row.source);
  }

  /** The statuses of the certificate's issuance jobs. */
  async function jobStatuses(id: string) {
    const rows = await database.db
      .selectFrom('issuance_jobs')
      .select('status')
      .where('certificate_id', '=', id)
      .execute();
    return rows.map((row) => row.status);
  }

  /** How many order attempts (ACME or local CA signings) the certificate has. */
  async function attemptCount(id: string) {
    const rows = await database.db
      .selectFrom('order_attempts')
      .select('id')
      .where('certificate_id', '=', id)
      .execute();
    return rows.length;
  }

  it('local CA - root.pem is a 404 problem before the first internal name, and needs the token', async () => {
    const missing = await api('/v1/local-ca/root.pem');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await missing.json()) as { detail: string }).detail).toMatch(
      /first certificate for an internal name/,
    );
    expect((await fetch(`${base}/v1/local-ca/root.pem`)).status).toBe(401);
  });

  it('local CA - an app on https://app.internal gets a local CA certificate that verifies against the served root; renewal re-signs; the intermediate rotates', async () => {
    const created = await api('/v1/apps', {
      method: 'POST',
      body: JSON.stringify({
        name: 'intranet',
        image: 'nginx:1.27',
        port: 80,
        domains: ['https://app.internal'],
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const app = (await created.json()) as {
      domains: Array<{ mode: string }>;
      certificates: Array<{ id: string }>;
    };
    expect(app.domains.map((domain) => domain.mode)).toEqual(['local-ca']);
    const id = app.certificates[0]!.id;

    const first = await waitForSerial(id, null);
    const view = (await (await api(`/v1/certificates/${id}`)).json()) as { source: string; names: string[] };
    expect(view).toMatchObject({ source: 'local-ca', names: ['app.internal'] });
    const [leaf] = splitCertificateChain(first.chain_pem!);
    expect((Date.parse(leaf!.validTo) - Date.parse(leaf!.validFrom)) / 86_400_000).toBeCloseTo(7, 1);
    // 1/2 of the lifetime for certificates shorter than 10 days: renewal 3.5 days after not_before.
    // Half the 7-day lifetime left, spread earlier by at most a twentieth of it.
    const renewAfterDays = (first.renew_at!.getTime() - first.not_before!.getTime()) / 86_400_000;
    expect(renewAfterDays).toBeGreaterThan(3.5 - 7 / 20 - 0.01);
    expect(renewAfterDays).toBeLessThanOrEqual(3.5 + 0.01);
    expect(
      await database.db
        .selectFrom('order_attempts')
        .select('directory_url')
        .where('certificate_id', '=', id)
        .execute(),
    ).toEqual([{ directory_url: 'local-ca' }]);

    const rootResponse = await api('/v1/local-ca/root.pem');
    expect(rootResponse.status).toBe(200);
    expect(rootResponse.headers.get('content-type')).toMatch(/^application\/x-pem-file/);
    const rootPem = await rootResponse.text();
    expect(rootPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect((await handshakeWith(first, rootPem)).authorized).toBe(true);
    // Another trust anchor (Pebble's root) does not accept it: the handshake proves the chain, not just the files.
    await expect(handshakeWith(first, await pebble.rootPem())).rejects.toThrow();

    await renew(id, first.names);
    const renewed = await waitForSerial(id, first.serial);
    expect(renewed.chain_pem).not.toBe(first.chain_pem);
    expect((await handshakeWith(renewed, rootPem)).authorized).toBe(true);
    const intermediateOf = (chainPem: string) => splitCertificateChain(chainPem)[1]!.fingerprint256;
    expect(intermediateOf(renewed.chain_pem!)).toBe(intermediateOf(first.chain_pem!));

    // The intermediate is 21 of its 30 days old: past 2/3, so the next signing makes a new one under the same root.
    await database.db
      .updateTable('local_ca_certificates')
      .set({
        not_before: new Date(Date.now() - 21 * 86_400_000),
        not_after: new Date(Date.now() + 9 * 86_400_000),
      })
      .where('kind', '=', 'intermediate')
      .execute();
    await renew(id, renewed.names);
    const rotated = await waitForSerial(id, renewed.serial);
    expect(intermediateOf(rotated.chain_pem!)).not.toBe(intermediateOf(renewed.chain_pem!));
    expect((await handshakeWith(rotated, rootPem)).authorized).toBe(true);
    expect(await (await api('/v1/local-ca/root.pem')).text()).toBe(rootPem);
    const kinds = await database.db
      .selectFrom('local_ca_certificates')
      .select('kind')
      .orderBy('created_at')
      .execute();
    expect(kinds.map((row) => row.kind).sort()).toEqual(['intermediate', 'intermediate', 'root']);
    // Keys are stored sealed, never as PEM.
    const sealed = await database.db.selectFrom('local_ca_certificates').select('key_encrypted').execute();
    for (const row of sealed) expect(row.key_encrypted).toMatch(/^gh1\./);
  });

  it('local CA - an ACME certificate whose domain is in mode custom is not renewed: no order, renewal time cleared', async () => {
    const created = await api('/v1/apps', {
      method: 'POST',
      body: JSON.stringify({
        name: 'held',
        image: 'nginx:1.27',
        port: 80,
        domains: [{ url: 'https://held.test', mode: 'custom' }],
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    expect(((await created.json()) as { certificates: unknown[] }).certificates).toEqual([]);
    // The ACME certificate the domain had before it moved to custom, now due.
    const id = crypto.randomUUID();
    await database.db
      .insertInto('certificates')
      .values({
        id,
        names: ['held.test'],
        names_key: 'held.test',
        status: 'valid',
        source: 'acme',
        chain_pem: 'old chain',
        not_before: new Date(Date.now() - 60 * 86_400_000),
        not_after: new Date(Date.now() + 30 * 86_400_000),
      })
      .execute();
    await renew(id, ['held.test']);
    await waitFor(
      'the held renewal job done',
      async () =>
        (
          await database.db
            .selectFrom('issuance_jobs')
            .select('status')
            .where('certificate_id', '=', id)
            .executeTakeFirst()
        )?.status === 'done',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const row = await certificateRow(database.db, id);
    expect(row).toMatchObject({ status: 'valid', renew_at: null, chain_pem: 'old chain' });
    const attempts = await database.db
      .selectFrom('order_attempts')
      .select('id')
      .where('certificate_id', '=', id)
      .execute();
    expect(attempts).toEqual([]);
    expect(
      await database.db.selectFrom('orders').select('id').where('certificate_id', '=', id).execute(),
    ).toEqual([]);
  });

  it('local CA - a local CA certificate whose domain leaves mode local-ca is not re-signed (custom, fallback-only, acme); back to local-ca it is renewed again', async () => {
    const created = await api('/v1/apps', {
      method: 'POST',
      body: JSON.stringify({
        name: 'switching',
        image: 'nginx:1.27',
        port: 80,
        domains: [{ url: 'https://switching.test', mode: 'local-ca' }],
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const id = ((await created.json()) as { certificates: Array<{ id: string }> }).certificates[0]!.id;
    const signed = await waitForSerial(id, null);
    expect(signed).toMatchObject({ source: 'local-ca', names: ['switching.test'] });
    expect(signed.renew_at).not.toBeNull();
    const signedAttempts = await attemptCount(id);

    const switchTo = async (mode: string) => {
      const patched = await api('/v1/apps/switching', {
        method: 'PATCH',
        body: JSON.stringify({ domains: [{ url: 'https://switching.test', mode }] }),
      });
      expect(patched.status, await patched.clone().text()).toBe(200);
      return (await patched.json()) as { certificates: Array<{ id: string }> };
    };
    /** The renewal the scheduler would hand out once renew_at passes ends held: no new leaf, no renewal time. */
    const expectHeld = async (mode: string) => {
      const jobsBefore = await jobStatuses(id);
      await renew(id, ['switching.test']);
      await waitFor(
        `the renewal of the local CA certificate held in mode ${mode} done`,
        async () => {
          const jobs = await jobStatuses(id);
          return jobs.length > jobsBefore.length && jobs.every((status) => status === 'done');
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const row = await certificateRow(database.db, id);
      expect(row, `mode ${mode}`).toMatchObject({
        status: 'valid',
        renew_at: null,
        serial: signed.serial,
        chain_pem: signed.chain_pem,
      });
      expect(await attemptCount(id), `mode ${mode}`).toBe(signedAttempts);
    };

    // custom: the old certificate stays linked and served until an upload replaces it, but is not re-signed.
    const toCustom = await switchTo('custom');
    expect(toCustom.certificates.map((c) => c.id)).toEqual([id]);
    await expectHeld('custom');
    // fallback-only and acme: the app points elsewhere; the old certificate, still due, is not re-signed either.
    const toFallback = await switchTo('fallback-only');
    expect(await sourcesOf(toFallback.certificates)).toEqual(['self-signed']);
    await expectHeld('fallback-only');
    const toAcme = await switchTo('acme');
    expect(await sourcesOf(toAcme.certificates)).toEqual(['acme']);
    await expectHeld('acme');

    // Back to local-ca: the same certificate is linked again and scheduled by the lifetime rule; its renewal signs.
    const back = await switchTo('local-ca');
    expect(back.certificates.map((c) => c.id)).toEqual([id]);
    expect((await certificateRow(database.db, id)).renew_at).not.toBeNull();
    await renew(id, ['switching.test']);
    const resigned = await waitForSerial(id, signed.serial);
    const rootPem = await (await api('/v1/local-ca/root.pem')).text();
    expect((await handshakeWith(resigned, rootPem, 'switching.test')).authorized).toBe(true);
  });

  it('local CA - replicas racing at first use make one root and one intermediate', async () => {
    const fresh = await createTestDatabase('local_ca_race');
    try {
      const signers = await Promise.all(Array.from({ length: 6 }, () => currentLocalCaSigner(fresh.db, box)));
      expect(new Set(signers.map((signer) => signer.id)).size).toBe(1);
      const rows = await fresh.db.selectFrom('local_ca_certificates').select('kind').execute();
      expect(rows.map((row) => row.kind).sort()).toEqual(['intermediate', 'root']);
    } finally {
      await fresh.drop();
    }
  });
});

function certificateRow(db: Db, id: string) {
  return db.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
