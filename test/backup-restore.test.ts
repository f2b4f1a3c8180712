import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSecretBox } from '@gatehouse/pki';
import { freePort, tlsHandshake, waitFor } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startStack, type TestStack } from './stack.ts';

const run = promisify(execFile);
const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const suffix = Math.random().toString(36).slice(2, 8);
const repoRoot = join(import.meta.dirname, '..');

interface CertificateEntry {
  certFile: string;
  keyFile: string;
}

// Also with every service as its own Postgres role (compose's least privilege): a restore is the api's widest access.
describe.each([
  { how: 'superuser', dbRoles: false },
  { how: 'own roles', dbRoles: true },
])('backup and restore ($how)', { timeout: 240_000 }, ({ dbRoles }) => {
  const appName = `keep-${suffix}${dbRoles ? 'r' : ''}`;
  const host = `${appName}.test`;
  // An internal name beside it: its certificate comes from the local CA, whose keys the archive must carry.
  const internalHost = `${appName}.internal`;
  let stack: TestStack;
  let appPort: number;
  let tcpPort: number;
  const work = mkdtempSync(join(tmpdir(), 'gh-backup-'));

  beforeAll(async () => {
    stack = await startStack({ label: `test-backup-${suffix}${dbRoles ? '-r' : ''}`, dbRoles });
    appPort = await freePort();
    tcpPort = await freePort();
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${stack.apiToken}`, ...init.headers },
    });

  /** The certificate files the app's Traefik file lists, once they exist. */
  function servedCertificates(): CertificateEntry[] | false {
    const file = join(stack.root, 'dynamic', `app-${appName}.yml`);
    if (!existsSync(file)) return false;
    const entries =
      (parse(readFileSync(file, 'utf8')) as { tls?: { certificates?: CertificateEntry[] } }).tls
        ?.certificates ?? [];
    return entries.length === 2 && entries.every((entry) => existsSync(entry.certFile)) && entries;
  }

  /** The served entry whose certificate names `name`. */
  function entryFor(entries: CertificateEntry[], name: string): CertificateEntry {
    const entry = entries.find((candidate) =>
      new X509Certificate(readFileSync(candidate.certFile)).subjectAltName?.includes(`DNS:${name}`),
    );
    if (!entry) throw new Error(`no served certificate names ${name}`);
    return entry;
  }

  const cli = (args: string[]) =>
    run(process.execPath, [join(repoRoot, 'scripts/backup.ts'), ...args], {
      cwd: work,
      env: { ...process.env, GATEHOUSE_URL: stack.apiUrl, GATEHOUSE_API_TOKEN: stack.apiToken },
    });

  it('backup - back up, lose the database, restore: the same certificate is served again and no order is placed', async () => {
    const created = await api('/v1/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: appName,
        image: testImage,
        port: appPort,
        domains: [`https://${host}`, `https://${internalHost}`],
        // A TCP port (migration 0014) travels with the app.
        tcp: [{ publicPort: tcpPort, tls: true }],
        command: [
          'sh',
          '-c',
          `mkdir -p /w && echo kept > /w/index.html && exec httpd -f -h /w -p 127.0.0.1:${appPort}`,
        ],
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const servedBefore = await waitFor('the first certificates served', servedCertificates, {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const before = entryFor(servedBefore, host);
    const fingerprint = new X509Certificate(readFileSync(before.certFile)).fingerprint256;
    const internalFingerprint = new X509Certificate(
      readFileSync(entryFor(servedBefore, internalHost).certFile),
    ).fingerprint256;
    const rootPem = await (await api('/v1/local-ca/root.pem')).text();
    expect(rootPem).toMatch(/BEGIN CERTIFICATE/);
    const localCaRows = async () =>
      (
        await stack.database.db
          .selectFrom('local_ca_certificates')
          .select(['id', 'key_encrypted'])
          .orderBy('id')
          .execute()
      ).map((row) => `${row.id}:${row.key_encrypted}`);
    const localCaBefore = await localCaRows();
    expect(localCaBefore).toHaveLength(2);
    const ordersBefore = await stack.database.db.selectFrom('orders').select('id').execute();
    expect(ordersBefore.length).toBeGreaterThan(0);

    // The CLI saves the archive; nothing in it is readable without the master key.
    const { stdout } = await cli(['backup', '--out', 'site.backup']);
    expect(stdout).toContain('site.backup');
    const archive = readFileSync(join(work, 'site.backup'), 'utf8');
    const [header, ...sealed] = archive.trim().split('\n');
    expect(JSON.parse(header!)).toMatchObject({ format: 'gatehouse-backup', version: 1 });
    expect(sealed.length).toBeGreaterThan(3);
    expect(archive).not.toContain('BEGIN CERTIFICATE');
    expect(archive).not.toContain(host);

    // A restore into an installation that has apps is refused, and changes nothing.
    const refused = await api('/v1/restore', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.gatehouse.backup' },
      body: archive,
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/only into an empty installation/);

    // The database is lost: every service stops, it is dropped and created empty, Traefik's files are gone too.
    const restoredAt = new Date();
    await stack.restartServices(async () => {
      await stack.database.recreate();
      rmSync(join(stack.root, 'dynamic'), { recursive: true, force: true });
      rmSync(join(stack.root, 'certs'), { recursive: true, force: true });
    });
    expect((await api(`/v1/apps/${appName}`)).status).toBe(404);

    // A cut-off archive (no trailer) is refused and leaves the installation empty.
    const cut = await api('/v1/restore', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.gatehouse.backup' },
      body: `${[header, ...sealed.slice(0, -1)].join('\n')}\n`,
    });
    expect(cut.status).toBe(400);
    expect(((await cut.json()) as { detail: string }).detail).toMatch(/cut off/);
    expect((await api(`/v1/apps/${appName}`)).status).toBe(404);

    // An archive sealed under another master key is refused at its first row.
    const stranger = createSecretBox(randomBytes(32));
    const createdAt = (JSON.parse(header!) as { createdAt: string }).createdAt;
    const foreign = await api('/v1/restore', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.gatehouse.backup' },
      body: `${header}\n${stranger.seal(JSON.stringify({ table: 'settings', row: {} }), `backup:${createdAt}`)}\n`,
    });
    expect(foreign.status).toBe(400);
    expect(((await foreign.json()) as { detail: string }).detail).toMatch(/another key/);

    // The empty installation made a local CA of its own meanwhile (its first internal name, say): it signed
    // nothing that is stored, so the archive's CA, which operators trust, replaces it.
    await stack.database.db
      .insertInto('local_ca_certificates')
      .values({
        id: crypto.randomUUID(),
        kind: 'root',
        cert_pem: 'a root made by the new installation',
        key_encrypted: 'sealed',
        not_before: new Date(),
        not_after: new Date(Date.now() + 86_400_000),
      })
      .execute();
    const restored = await cli(['restore', 'site.backup']);
    expect(restored.stdout).toMatch(/restored \d+ rows/);

    const servedAfter = await waitFor('the restored certificates served', servedCertificates, {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const after = entryFor(servedAfter, host);
    expect(new X509Certificate(readFileSync(after.certFile)).fingerprint256).toBe(fingerprint);
    const handshake = await tlsHandshake(after, host, await stack.pebble.rootPem());
    expect(handshake.authorized).toBe(true);
    // The local CA came back as it was (keys still sealed, same rows), so the restored internal certificate is
    // served unchanged and still verifies against the root operators installed before the loss.
    expect(await localCaRows()).toEqual(localCaBefore);
    expect(await (await api('/v1/local-ca/root.pem')).text()).toBe(rootPem);
    const internalAfter = entryFor(servedAfter, internalHost);
    expect(new X509Certificate(readFileSync(internalAfter.certFile)).fingerprint256).toBe(
      internalFingerprint,
    );
    expect((await tlsHandshake(internalAfter, internalHost, rootPem)).authorized).toBe(true);
    const app = (await (await api(`/v1/apps/${appName}`)).json()) as {
      certificates: Array<{ status: string }>;
      tcp: unknown[];
    };
    expect(app.certificates.map((certificate) => certificate.status)).toEqual(['valid', 'valid']);
    expect(app.tcp).toMatchObject([{ publicPort: tcpPort, targetPort: null, tls: true }]);
    // No order since the restore: the certificate came back from the archive, not from the CA.
    const ordersAfter = await stack.database.db
      .selectFrom('orders')
      .select('id')
      .where('created_at', '>=', restoredAt)
      .execute();
    expect(ordersAfter).toEqual([]);
    // The container runs again.
    await waitFor(
      'the app answering again',
      async () => {
        const answer = await fetch(`http://127.0.0.1:${appPort}/`).catch(() => undefined);
        return answer?.status === 200 && (await answer.text()).trim() === 'kept';
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  });

  it('backup - what is not an archive is refused with a reason, and the CLI exits 1 with the problem', async () => {
    const garbage = await api('/v1/restore', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.gatehouse.backup' },
      body: 'hello\n',
    });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { detail: string }).detail).toMatch(/not a Gatehouse backup header/);

    writeFileSync(join(work, 'notes.txt'), 'not a backup\n');
    const failed = await cli(['restore', 'notes.txt']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toMatch(
      /the api answered 400: .*not a Gatehouse backup header/,
    );
  });
});
