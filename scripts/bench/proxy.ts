/**
 * proxy-config directory benchmark (issue 4): N apps, each with one https domain, a running deployment
 * and a valid certificate, in a database of its own. Measures, in-process, a full rebuild into an empty
 * directory, a second pass with nothing changed, and one app's change synced the way the service does it
 * today (a full `syncDirectory` pass). Prints a table and, last, one JSON line.
 *
 *   npm run bench:proxy -- --apps 10000
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createSecretBox, createSelfSignedCertificate } from '@gatehouse/pki';
import { createTestDatabase } from '@gatehouse/testing';
import { createDirectoryWriter } from '../../services/proxy-config/src/sync/directory-writer.ts';
import { syncDirectory } from '../../services/proxy-config/src/sync/sync-directory.ts';
import { appFileName } from '../../services/proxy-config/src/traefik/index.ts';

const { values: flags } = parseArgs({
  options: {
    apps: { type: 'string', default: '10000' },
    /** Apps sharing one generated key/cert pair (each still has its own certificate row). */
    'apps-per-key': { type: 'string', default: '100' },
  },
});
const apps = Number(flags.apps);
const appsPerKey = Number(flags['apps-per-key']);
if (!Number.isInteger(apps) || apps < 1 || !Number.isInteger(appsPerKey) || appsPerKey < 1) {
  console.error('--apps and --apps-per-key must be positive integers');
  process.exit(2);
}

const targets = { oneAppUpdateMs: 50, oneAppOtherFilesChanged: 0, fullRebuildS: 5 };

/** name → "inode:mtimeNs" for every file under the given directories. */
function fileStamps(dirs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of dirs) {
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name), { bigint: true });
      out.set(join(dir, name), `${st.ino}:${st.mtimeNs}`);
    }
  }
  return out;
}

function diffStamps(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [name, stamp] of after) if (before.get(name) !== stamp) changed.push(name);
  for (const name of before.keys()) if (!after.has(name)) changed.push(name);
  return changed;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function main(): Promise<number> {
  const database = await createTestDatabase('bench_proxy');
  const root = mkdtempSync(join(tmpdir(), 'bench-proxy-'));
  try {
    const db = database.db;
    const box = createSecretBox(randomBytes(32));
    const seedStart = performance.now();
    const pairs = Array.from({ length: Math.ceil(apps / appsPerKey) }, (_, i) =>
      createSelfSignedCertificate({ commonName: `bench-${i}.test`, days: 30 }),
    );
    const chunk = 500;
    const appIds: string[] = [];
    const deploymentIds: string[] = [];
    for (let start = 0; start < apps; start += chunk) {
      const rows = Array.from({ length: Math.min(chunk, apps - start) }, (_, k) => {
        const i = start + k;
        const pair = pairs[Math.floor(i / appsPerKey)]!;
        const hostname = `app-${i}.bench.test`;
        return {
          appId: randomUUID(),
          certificateId: randomUUID(),
          deploymentId: randomUUID(),
          hostname,
          slug: `app-${String(i).padStart(6, '0')}`,
          pair,
        };
      });
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('apps')
          .values(rows.map((r) => ({ id: r.appId, name: r.slug, image: 'bench/app:1', port: 8080 })))
          .execute();
        await trx
          .insertInto('domains')
          .values(
            rows.map((r) => ({
              id: randomUUID(),
              app_id: r.appId,
              hostname: r.hostname,
              https: true,
              www: 'none',
            })),
          )
          .execute();
        await trx
          .insertInto('certificates')
          .values(
            rows.map((r) => ({
              id: r.certificateId,
              names: [r.hostname],
              names_key: r.hostname,
              status: 'valid',
              source: 'acme',
              chain_pem: r.pair.certPem,
              private_key_encrypted: box.seal(r.pair.keyPem, `certificate:${r.certificateId}`),
              not_after: new Date(Date.now() + 30 * 86_400_000),
            })),
          )
          .execute();
        await trx
          .insertInto('app_certificates')
          .values(rows.map((r) => ({ app_id: r.appId, certificate_id: r.certificateId })))
          .execute();
        await trx
          .insertInto('deployments')
          .values(
            rows.map((r) => ({
              id: r.deploymentId,
              app_id: r.appId,
              revision: 1,
              container_id: `c-${r.slug}`,
              status: 'running',
              upstream_host: '127.0.0.1',
              upstream_port: 18080,
            })),
          )
          .execute();
      });
      for (const r of rows) {
        appIds.push(r.appId);
        deploymentIds.push(r.deploymentId);
      }
    }
    const seedS = (performance.now() - seedStart) / 1_000;

    const dynamicDir = join(root, 'dynamic');
    const certsDir = join(root, 'certs');
    mkdirSync(dynamicDir);
    mkdirSync(certsDir);
    const writer = createDirectoryWriter({
      dynamicDir,
      certsDir,
      http01ResponderUrl: 'http://127.0.0.1:8089',
    });

    // (1) Full rebuild into an empty directory.
    let t = performance.now();
    const rebuilt = await syncDirectory(db, box, writer);
    const rebuildMs = performance.now() - t;
    const rssMb = process.resourceUsage().maxRSS / 1024;
    const filesInDirs = readdirSync(dynamicDir).length + readdirSync(certsDir).length;

    // (2) Second full pass, nothing changed.
    let before = fileStamps([dynamicDir, certsDir]);
    t = performance.now();
    const noopWritten = await syncDirectory(db, box, writer);
    const noopMs = performance.now() - t;
    const noopTouched = diffStamps(before, fileStamps([dynamicDir, certsDir]));

    // (3) One app's change: its upstream port, then the service's sync (a full pass today).
    const target = Math.floor(apps / 2);
    const targetFile = join(dynamicDir, appFileName(`app-${String(target).padStart(6, '0')}`));
    before = fileStamps([dynamicDir, certsDir]);
    t = performance.now();
    await db
      .updateTable('deployments')
      .set({ upstream_port: 18081 })
      .where('id', '=', deploymentIds[target]!)
      .execute();
    const oneWritten = await syncDirectory(db, box, writer);
    const oneMs = performance.now() - t;
    const oneChanged = diffStamps(before, fileStamps([dynamicDir, certsDir]));
    const targetChanged = oneChanged.includes(targetFile);
    const otherChanged = oneChanged.filter((name) => name !== targetFile);

    const result = {
      apps,
      apps_per_key: appsPerKey,
      seed_s: round(seedS, 2),
      full_rebuild: {
        ms: round(rebuildMs),
        files_written: rebuilt.length,
        files_in_dirs: filesInDirs,
        peak_rss_mb: round(rssMb),
        target_s: targets.fullRebuildS,
        met: rebuildMs < targets.fullRebuildS * 1_000,
      },
      unchanged_pass: {
        ms: round(noopMs),
        files_written: noopWritten.length,
        files_touched: noopTouched.length,
      },
      one_app_update: {
        ms: round(oneMs),
        sync_reported: oneWritten.length,
        its_file_renamed: targetChanged,
        other_files_changed: otherChanged.length,
        target_ms: targets.oneAppUpdateMs,
        met: targetChanged && oneMs < targets.oneAppUpdateMs && otherChanged.length === 0,
      },
      peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
    };
    printTable(result);
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    rmSync(root, { recursive: true, force: true });
    await database.drop();
  }
}

function printTable(r: {
  apps: number;
  seed_s: number;
  full_rebuild: { ms: number; files_written: number; peak_rss_mb: number; met: boolean };
  unchanged_pass: { ms: number; files_touched: number };
  one_app_update: { ms: number; its_file_renamed: boolean; other_files_changed: number; met: boolean };
}): void {
  const yes = (met: boolean) => (met ? 'met' : 'NOT met');
  console.log(`proxy bench: ${r.apps} apps (seeded in ${r.seed_s} s)`);
  console.log(
    `  full rebuild      ${String(r.full_rebuild.ms).padStart(10)} ms  ${r.full_rebuild.files_written} files, peak RSS ${r.full_rebuild.peak_rss_mb} MB   target < ${targets.fullRebuildS} s: ${yes(r.full_rebuild.met)}`,
  );
  console.log(
    `  unchanged pass    ${String(r.unchanged_pass.ms).padStart(10)} ms  ${r.unchanged_pass.files_touched} files touched`,
  );
  console.log(
    `  one-app update    ${String(r.one_app_update.ms).padStart(10)} ms  its file renamed: ${r.one_app_update.its_file_renamed}, other files changed ${r.one_app_update.other_files_changed}   target < ${targets.oneAppUpdateMs} ms, 0 others: ${yes(r.one_app_update.met)}`,
  );
}

process.exitCode = await main();
