import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretBox, createSelfSignedCertificate, type PemPair } from '@gatehouse/pki';
import { createTestDatabase, type TestDatabase, waitFor } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoalescer, type PendingWork } from '../src/sync/coalescer.ts';
import { createDirectoryWriter } from '../src/sync/directory-writer.ts';
import { createProxyDirectory } from '../src/sync/proxy-directory.ts';
import { pemFileNames } from '../src/traefik/index.ts';

/**
 * The incremental path against real Postgres and a real directory, in-process: one app's change touches
 * only its files, a deleted app's file goes while PEMs other apps still reference stay, one broken app
 * does not stop the others, and a full pass heals a lost directory and removes orphans.
 */

const box = createSecretBox(randomBytes(32));

/** name → "inode:mtimeNs" of every file in the directories (temp files of a write included). */
function stamps(...dirs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of dirs) {
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name), { bigint: true });
      out.set(join(dir, name), `${st.ino}:${st.mtimeNs}`);
    }
  }
  return out;
}

function changedBetween(before: Map<string, string>, after: Map<string, string>): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((name) => before.get(name) !== after.get(name)).sort();
}

function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), 'utf8')]),
  );
}

describe('proxy-config directory', { timeout: 60_000 }, () => {
  let database: TestDatabase;
  let root: string;
  let dynamicDir: string;
  let certsDir: string;
  let shared: PemPair;
  const apps = { a: randomUUID(), b: randomUUID(), c: randomUUID() };

  async function addApp(id: string, slug: string, hostname: string, pair: PemPair) {
    const certificateId = randomUUID();
    await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('apps').values({ id, name: slug, image: 'x/y:1', port: 80 }).execute();
      await trx
        .insertInto('domains')
        .values({ id: randomUUID(), app_id: id, hostname, https: true, www: 'none' })
        .execute();
      await trx
        .insertInto('certificates')
        .values({
          id: certificateId,
          names: [hostname],
          names_key: hostname,
          status: 'valid',
          source: 'acme',
          chain_pem: pair.certPem,
          private_key_encrypted: box.seal(pair.keyPem, `certificate:${certificateId}`),
          not_after: new Date(Date.now() + 30 * 86_400_000),
        })
        .execute();
      await trx
        .insertInto('app_certificates')
        .values({ app_id: id, certificate_id: certificateId })
        .execute();
      await trx
        .insertInto('deployments')
        .values({
          id: randomUUID(),
          app_id: id,
          revision: 1,
          container_id: `c-${slug}`,
          status: 'running',
          upstream_host: '127.0.0.1',
          upstream_port: 18080,
        })
        .execute();
    });
  }

  beforeAll(async () => {
    shared = await createSelfSignedCertificate({ commonName: 'shared.test', dnsNames: ['a.test', 'b.test'] });
    database = await createTestDatabase('proxy_directory');
    root = mkdtempSync(join(tmpdir(), 'gh-proxy-dir-'));
    dynamicDir = join(root, 'dynamic');
    certsDir = join(root, 'certs');
    mkdirSync(dynamicDir);
    mkdirSync(certsDir);
    // a and b share one certificate and key (same PEM files), c has its own.
    await addApp(apps.a, 'a', 'a.test', shared);
    await addApp(apps.b, 'b', 'b.test', shared);
    await addApp(apps.c, 'c', 'c.test', await createSelfSignedCertificate({ commonName: 'c.test' }));
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('proxy - one app changed or deleted touches only its own files; a broken app leaves the others; a full pass heals and sweeps', async () => {
    const writer = createDirectoryWriter({
      dynamicDir,
      certsDir,
      http01ResponderUrl: 'http://127.0.0.1:8081',
      box,
    });
    const directory = createProxyDirectory({ db: database.db, box, writer });
    const first = await directory.syncAll();
    expect(first.failures).toEqual([]);
    expect(readdirSync(dynamicDir).sort()).toEqual([
      'app-a.yml',
      'app-b.yml',
      'app-c.yml',
      'gatehouse-core.yml',
    ]);
    // Default certificate + shared pair + c's pair.
    expect(readdirSync(certsDir)).toHaveLength(6);

    // Nothing changed: a second full pass touches nothing.
    let before = stamps(dynamicDir, certsDir);
    expect((await directory.syncAll()).changed).toEqual([]);
    expect(changedBetween(before, stamps(dynamicDir, certsDir))).toEqual([]);

    // One app's upstream changes: only its file is renamed.
    await database.db
      .updateTable('deployments')
      .set({ upstream_port: 18081 })
      .where('app_id', '=', apps.a)
      .execute();
    before = stamps(dynamicDir, certsDir);
    expect((await directory.syncApps([apps.a])).changed).toEqual(['app-a.yml']);
    expect(changedBetween(before, stamps(dynamicDir, certsDir))).toEqual([join(dynamicDir, 'app-a.yml')]);
    expect(readFileSync(join(dynamicDir, 'app-a.yml'), 'utf8')).toContain('http://127.0.0.1:18081');

    // b is deleted: its file goes; the PEMs it shared with a stay, since a still references them.
    await database.db.deleteFrom('apps').where('id', '=', apps.b).execute();
    before = stamps(dynamicDir, certsDir);
    expect((await directory.syncApps([apps.b])).changed).toEqual(['app-b.yml']);
    expect(changedBetween(before, stamps(dynamicDir, certsDir))).toEqual([join(dynamicDir, 'app-b.yml')]);

    // c gets a host name no router may hold: c's file is kept as it was, a's update still lands.
    await database.db
      .updateTable('domains')
      .set({ hostname: 'bad host`' })
      .where('app_id', '=', apps.c)
      .execute();
    await database.db
      .updateTable('deployments')
      .set({ upstream_port: 18082 })
      .where('app_id', '=', apps.a)
      .execute();
    const cBefore = readFileSync(join(dynamicDir, 'app-c.yml'), 'utf8');
    const mixed = await directory.syncApps([apps.c, apps.a]);
    expect(mixed.failures.map((failure) => failure.slug)).toEqual(['c']);
    expect(mixed.changed).toEqual(['app-a.yml']);
    expect(readFileSync(join(dynamicDir, 'app-c.yml'), 'utf8')).toBe(cBefore);
    // A restart while c is still broken: the new process has no record of c's files, and keeps them.
    const certsBefore = readdirSync(certsDir).sort();
    const restarted = createProxyDirectory({
      db: database.db,
      box,
      writer: createDirectoryWriter({
        dynamicDir,
        certsDir,
        http01ResponderUrl: 'http://127.0.0.1:8081',
        box,
      }),
    });
    const afterRestart = await restarted.syncAll();
    expect(afterRestart.failures.map((failure) => failure.slug)).toEqual(['c']);
    expect(readFileSync(join(dynamicDir, 'app-c.yml'), 'utf8')).toBe(cBefore);
    expect(readdirSync(certsDir).sort()).toEqual(certsBefore);

    await database.db
      .updateTable('domains')
      .set({ hostname: 'c.test' })
      .where('app_id', '=', apps.c)
      .execute();

    // The volume is lost and someone left an orphan of ours and a file of their own: a full pass rebuilds
    // the same bytes, removes the orphan and leaves the foreign file alone.
    const settled = { dynamic: contents(dynamicDir), certs: contents(certsDir) };
    rmSync(dynamicDir, { recursive: true });
    rmSync(certsDir, { recursive: true });
    mkdirSync(dynamicDir);
    mkdirSync(certsDir);
    writeFileSync(join(dynamicDir, 'app-ghost.yml'), 'http: {}\n');
    writeFileSync(join(dynamicDir, 'operator.yml'), 'http: {}\n');
    const healed = await directory.syncAll();
    expect(healed.failures).toEqual([]);
    expect(contents(certsDir)).toEqual(settled.certs);
    const { 'operator.yml': foreign, ...ours } = contents(dynamicDir);
    expect(ours).toEqual(settled.dynamic);
    expect(foreign).toBe('http: {}\n');
    // An uploaded wildcard covering a.test is found by the one-app path too (through the index on names),
    // and replaces a's certificate in a's file only.
    const wildcard = await createSelfSignedCertificate({ commonName: '*.test', dnsNames: ['*.test'] });
    const wildcardId = randomUUID();
    await database.db
      .insertInto('certificates')
      .values({
        id: wildcardId,
        names: ['*.test'],
        names_key: '*.test',
        status: 'valid',
        source: 'custom',
        chain_pem: wildcard.certPem,
        private_key_encrypted: box.seal(wildcard.keyPem, `certificate:${wildcardId}`),
        not_after: new Date(Date.now() + 30 * 86_400_000),
      })
      .execute();
    const withWildcard = await directory.syncApps([apps.a]);
    expect(withWildcard.changed).toContain('app-a.yml');
    expect(withWildcard.changed.filter((name) => name.endsWith('.yml'))).toEqual(['app-a.yml']);
    const aFile = readFileSync(join(dynamicDir, 'app-a.yml'), 'utf8');
    expect(aFile).toContain(pemFileNames(wildcard.certPem, wildcard.keyPem).certFile);
    expect(aFile).not.toContain(pemFileNames(shared.certPem, shared.keyPem).certFile);

    // No temp file is left behind by the staged writes.
    expect(
      [...readdirSync(dynamicDir), ...readdirSync(certsDir)].filter((name) => name.startsWith('.')),
    ).toEqual([]);
  });

  it('proxy - requests coalesce: app ids accumulate while a burst runs, a full pass absorbs them', async () => {
    const runs: PendingWork[] = [];
    let release: () => void = () => undefined;
    const coalescer = createCoalescer(async (work) => {
      runs.push({ full: work.full, appIds: new Set(work.appIds) });
      if (runs.length === 1) await new Promise<void>((resolve) => (release = resolve));
    }, 10);
    coalescer.scheduleApps(['a']);
    coalescer.scheduleApps(['b']);
    await waitFor('the first burst', () => runs.length === 1);
    coalescer.scheduleApps(['c']);
    coalescer.scheduleFull();
    coalescer.scheduleApps(['d']);
    release();
    await waitFor('the second burst', () => runs.length === 2);
    await coalescer.stop();
    expect(runs).toEqual([
      { full: false, appIds: new Set(['a', 'b']) },
      { full: true, appIds: new Set(['c', 'd']) },
    ]);
  });
});
