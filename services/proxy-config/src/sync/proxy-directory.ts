import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import { appFileName, CORE_FILE_NAME } from '../traefik/index.ts';
import { ensureDefaultCertificate } from './default-certificate.ts';
import type { AppFiles, DirectoryWriter, WriteBurst } from './directory-writer.ts';
import { type AppModel, loadAppModels } from './load-app.ts';
import { loadOnDemandHosts } from './load-on-demand.ts';
import { mapConcurrently } from './work-in-slices.ts';

/** An app whose file could not be rendered or written; its previous file is left as it was. */
export interface AppSyncFailure {
  appId: string;
  slug: string;
  error: unknown;
}

export interface SyncResult {
  /** Files written or removed, in both directories. */
  changed: string[];
  failures: AppSyncFailure[];
}

/**
 * Keeps Traefik's directory equal to Postgres, two ways:
 * - `syncAll`: the core file, one file per routable app, the PEM files they reference, nothing else of ours
 *   (orphans removed). Compares with the directory on disk, so it heals a lost volume; run at start and as a
 *   periodic sweep.
 * - `syncApps(ids)`: only those apps are loaded, and only their files and PEMs written (or removed when the
 *   app is gone); a PEM is removed when no file references it any more. Cost grows with the change, not with
 *   the number of apps.
 *
 * It remembers which files each app references (the reference counts that make incremental PEM removal
 * safe). That memory is rebuilt by every full pass; before the first one, `syncApps` runs a full pass.
 * Calls MUST NOT overlap (the coalescer runs one at a time).
 */
export function createProxyDirectory(deps: { db: Db; box: SecretBox; writer: DirectoryWriter }) {
  let appFiles = new Map<string, AppFiles>();
  let pemRefs = new Map<string, number>();
  let synced = false;

  async function writeApp(burst: WriteBurst, app: AppModel, failures: AppSyncFailure[]) {
    try {
      return { ok: true as const, files: await burst.writeApp(app) };
    } catch (error) {
      failures.push({ appId: app.id, slug: app.slug, error });
      return { ok: false as const };
    }
  }

  async function syncAll(): Promise<SyncResult> {
    const failures: AppSyncFailure[] = [];
    const burst = await deps.writer.startBurst({ verifyDisk: true });
    try {
      return await fullPass(burst, failures);
    } catch (error) {
      await burst.abort();
      throw error;
    }
  }

  async function fullPass(burst: WriteBurst, failures: AppSyncFailure[]): Promise<SyncResult> {
    const corePems = [
      ...(await burst.writeCore(await ensureDefaultCertificate(deps.db, deps.box))),
      // On-demand hosts are few and change rarely (first issuance, renewal): they ride on the full pass.
      ...(await burst.writeOnDemand(await loadOnDemandHosts(deps.db))),
    ];
    const apps = await loadAppModels(deps.db);
    const results = await mapConcurrently(apps, (app) => writeApp(burst, app, failures));

    const nextFiles = new Map<string, AppFiles>();
    apps.forEach((app, index) => {
      const result = results[index]!;
      // A failed app keeps what it had: its old file stays, and so do the PEMs that file references.
      const files = result.ok ? result.files : appFiles.get(app.id);
      if (files) nextFiles.set(app.id, files);
    });
    const nextRefs = countReferences(corePems, nextFiles.values());
    const keepYaml = new Set([CORE_FILE_NAME, ...[...nextFiles.values()].map((files) => files.file)]);
    // A failed app this process has no record of (the first pass after a restart) keeps its file from
    // before, and since the PEMs that file references are unknown, no PEM is swept this time.
    const unknownFailures = failures.filter((failure) => !appFiles.has(failure.appId));
    for (const failure of unknownFailures) keepYaml.add(safeAppFileName(failure.slug));
    burst.removeOrphans(keepYaml, unknownFailures.length > 0 ? undefined : new Set(nextRefs.keys()));
    appFiles = nextFiles;
    pemRefs = nextRefs;
    synced = true;
    return { changed: await burst.finish(), failures };
  }

  async function syncApps(appIds: Iterable<string>): Promise<SyncResult> {
    if (!synced) return syncAll();
    const ids = [...new Set(appIds)];
    const failures: AppSyncFailure[] = [];
    const burst = await deps.writer.startBurst();
    const models = new Map((await loadAppModels(deps.db, ids)).map((app) => [app.id, app]));
    const replaced: AppFiles[] = [];
    for (const id of ids) {
      const app = models.get(id);
      const before = appFiles.get(id);
      const result = app ? await writeApp(burst, app, failures) : { ok: true as const, files: undefined };
      if (!result.ok) continue;
      if (result.files) {
        appFiles.set(id, result.files);
        addReferences(pemRefs, result.files.pems, +1);
      } else {
        appFiles.delete(id);
      }
      if (before) {
        addReferences(pemRefs, before.pems, -1);
        replaced.push(before);
      }
    }
    // Removals come after every write, so a YAML file never references a PEM that is already gone, and a
    // file name taken over in this burst (an app deleted, another created with its name) is kept.
    for (const files of replaced) {
      // Only a deleted or renamed app leaves its file name; scan for a new owner only then (rare).
      if ([...ids].some((id) => appFiles.get(id)?.file === files.file)) continue;
      if ([...appFiles.values()].some((other) => other.file === files.file)) continue;
      burst.removeYaml(files.file);
    }
    for (const files of replaced) {
      for (const name of files.pems) {
        if (!pemRefs.has(name) || pemRefs.get(name)! > 0) continue;
        pemRefs.delete(name);
        burst.removePem(name);
      }
    }
    return { changed: await burst.finish(), failures };
  }

  return { syncAll, syncApps };
}

/** The app's file name, or none when the slug itself is what is broken (then nothing of it is kept). */
function safeAppFileName(slug: string): string {
  try {
    return appFileName(slug);
  } catch {
    return '';
  }
}

function countReferences(corePems: string[], apps: Iterable<AppFiles>): Map<string, number> {
  const refs = new Map<string, number>();
  // The core file's PEMs hold a reference forever: no app change may remove the default certificate.
  addReferences(refs, corePems, +1);
  for (const files of apps) addReferences(refs, files.pems, +1);
  return refs;
}

function addReferences(refs: Map<string, number>, names: readonly string[], delta: number): void {
  for (const name of names) refs.set(name, (refs.get(name) ?? 0) + delta);
}
