import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import { appFileName, CORE_FILE_NAME } from '../traefik/index.ts';
import { ensureDefaultCertificate } from './default-certificate.ts';
import type { createDirectoryWriter } from './directory-writer.ts';
import { loadAppModels } from './load-app.ts';

/**
 * Makes Traefik's directory match Postgres: the core file, one file per routable app, the PEM files
 * they reference, nothing else of ours. Idempotent and convergent, so it is also how a node heals a
 * lost volume at start. Returns the files written or removed.
 */
export async function syncDirectory(
  db: Db,
  box: SecretBox,
  writer: ReturnType<typeof createDirectoryWriter>,
): Promise<string[]> {
  const changed: string[] = [];
  const core = await writer.writeCore(await ensureDefaultCertificate(db, box));
  changed.push(...core.changed);
  const keepYaml = new Set<string>([CORE_FILE_NAME]);
  const keepPems = new Set<string>(core.pemNames);
  for (const app of await loadAppModels(db, box)) {
    const pems = await writer.writeApp(app, changed);
    if (app.upstream && app.domains.length > 0) keepYaml.add(appFileName(app.slug));
    for (const name of pems) keepPems.add(name);
  }
  changed.push(...(await writer.removeOrphans(keepYaml, keepPems)));
  return changed;
}

/**
 * Runs `sync` at most once per `intervalMs`, however many changes arrive (Traefik re-parses every
 * certificate on every reload, so bursts must become one write). A request during a sync schedules
 * one more.
 */
export function createCoalescer(sync: () => Promise<void>, intervalMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let lastRun = 0;

  function schedule(): void {
    if (running) {
      again = true;
      return;
    }
    if (timer) return;
    const wait = Math.max(0, lastRun + intervalMs - Date.now());
    timer = setTimeout(run, wait);
  }

  function run(): void {
    timer = undefined;
    lastRun = Date.now();
    running = sync().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        schedule();
      }
    });
  }

  return {
    schedule,
    async stop(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
