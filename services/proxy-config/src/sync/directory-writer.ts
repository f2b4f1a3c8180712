import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateKeyContext, type SecretBox } from '@gatehouse/pki';
import {
  APP_FILE_PATTERN,
  appFileName,
  CORE_FILE_NAME,
  commitStagedFileSync,
  createTraefikValidator,
  discardStagedFile,
  flushFileSystem,
  fsyncDirectory,
  fsyncStagedFile,
  ON_DEMAND_FILE_NAME,
  PEM_FILE_PATTERN,
  pemFileNames,
  renderAppConfig,
  renderCoreConfig,
  renderOnDemandConfig,
  type StagedFile,
  serializeTraefikConfig,
  stageFileSync,
  type TraefikDynamicConfig,
  validateTraefikConfig,
  writeFileAtomic,
} from '../traefik/index.ts';
import type { PemPair } from './default-certificate.ts';
import { type AppModel, choiceKeyContext } from './load-app.ts';
import type { OnDemandHostModel } from './load-on-demand.ts';

export interface DirectoryWriterOptions {
  dynamicDir: string;
  certsDir: string;
  /** The certificates directory as Traefik sees it (differs when mounted elsewhere in its container). */
  certsDirForTraefik?: string;
  http01ResponderUrl: string;
  /** cert-issuer's on-demand TLS terminator as Traefik reaches it (host:port); unset: no catch-all router. */
  onDemandTerminator?: string;
  /** Where Traefik sends issued on-demand hosts; unset: no on-demand file (they stay on the terminator). */
  onDemandUpstreamUrl?: string;
  schemaPath?: string;
  /** Decrypts certificate keys; only keys whose file is not already known are opened. */
  box: SecretBox;
}

/** What one app's file references: its YAML name and the PEM file names it lists. */
export interface AppFiles {
  file: string;
  pems: string[];
}

export type DirectoryWriter = ReturnType<typeof createDirectoryWriter>;

/** Files written at once in a burst: enough to hide fsync latency, few enough not to starve the event loop. */
const WRITE_CONCURRENCY = 32;

/**
 * Writes Traefik's directory: content-addressed PEM files first (mode 0600 for keys), then YAML that
 * references them — each file rendered, validated against the Traefik v3 schema, refused if invalid,
 * written atomically and only when its bytes change.
 *
 * It remembers a hash of every file it wrote or found, so an unchanged file costs a hash, not a read, and a
 * write burst fsyncs each directory once at its end instead of after every rename. The memory is a cache of
 * the disk, never the other way round: a full pass (`verifyDisk`) lists the directories and rewrites what is
 * missing, so a lost volume heals.
 */
export function createDirectoryWriter(options: DirectoryWriterOptions) {
  const validate = options.schemaPath ? createTraefikValidator(options.schemaPath) : validateTraefikConfig;
  const certsForTraefik = options.certsDirForTraefik ?? options.certsDir;
  /** `<dir>/<name>` → sha256 of the bytes it holds, as last written or read. */
  const known = new Map<string, string>();
  /** Sealed key → its PEM file name, so an unchanged key is not decrypted again. */
  const keyFileBySealed = new Map<string, string>();

  /**
   * One write burst: collects what changed, removes files only after every write, and fsyncs the touched
   * directories once, in `finish`.
   *
   * A full pass (`verifyDisk`) also stages its files: each is written under its temp name without an fsync,
   * and `finish` makes them all durable with one filesystem flush, then renames the PEM files and then the
   * YAML into place (a YAML file never lands before the PEMs it references). An fsync per file was most of a
   * 10,000-app rebuild. The incremental path writes its few files one by one, each fsynced.
   */
  async function startBurst(burstOptions: { verifyDisk?: boolean } = {}) {
    const changed: string[] = [];
    const touchedDirs = new Set<string>();
    const inFlight = new Map<string, Promise<void>>();
    const staged: { pems: StagedFile[]; yaml: StagedFile[] } = { pems: [], yaml: [] };
    const removals: Array<{ dir: string; name: string }> = [];
    /** Sealed keys this burst used; after a full pass the others are forgotten (renewals replace keys). */
    const sealedUsed = new Set<string>();
    // Names present before the burst; only listed for a full pass (the incremental path trusts memory).
    const onDisk = burstOptions.verifyDisk
      ? new Map([
          [options.dynamicDir, new Set(await readdir(options.dynamicDir))],
          [options.certsDir, new Set(await readdir(options.certsDir))],
        ])
      : undefined;

    /** `check` runs only when the bytes are about to be written, and may throw to refuse them. */
    function writeOnce(dir: string, name: string, content: string, mode: number, check?: () => void) {
      const path = join(dir, name);
      let pending = inFlight.get(path);
      if (!pending) {
        pending = write(dir, name, content, mode, check).finally(() => inFlight.delete(path));
        inFlight.set(path, pending);
      }
      return pending;
    }

    async function write(dir: string, name: string, content: string, mode: number, check?: () => void) {
      const path = join(dir, name);
      const hash = sha256(content);
      const before = known.get(path);
      const present = onDisk === undefined || onDisk.get(dir)!.has(name);
      if (before === hash && present) return;
      check?.();
      // Unknown files may already hold these bytes (a restart): compare then. Known ones we know differ.
      const knownDifferent = before !== undefined || !present;
      let outcome: 'written' | 'unchanged';
      if (onDisk) {
        const bytes = Buffer.from(content, 'utf8');
        if (!knownDifferent && readFileIfExistsSync(path)?.equals(bytes)) {
          outcome = 'unchanged';
        } else {
          const file = stageFileSync(dir, name, bytes, mode);
          (dir === options.certsDir ? staged.pems : staged.yaml).push(file);
          outcome = 'written';
        }
      } else {
        outcome = await writeFileAtomic(dir, name, content, { mode, knownDifferent, syncDirectory: false });
      }
      known.set(path, hash);
      onDisk?.get(dir)?.add(name);
      if (outcome === 'written') {
        changed.push(name);
        touchedDirs.add(dir);
      }
    }

    // Validated just before writing: bytes already known to be on disk passed validation when written.
    async function writeYaml(name: string, config: TraefikDynamicConfig): Promise<void> {
      await writeOnce(options.dynamicDir, name, serializeTraefikConfig(config), 0o644, () => {
        const verdict = validate(config);
        if (!verdict.ok) throw new Error(`refusing to write ${name}: ${verdict.errors.join('; ')}`);
      });
    }

    /** Writes a certificate's PEM pair; the key is decrypted only if its file is not known yet. */
    async function writePems(certPem: string, key: { pem: string } | { sealed: string; context: string }) {
      const certFile = pemFileNames(certPem, '').certFile;
      let keyFile = 'pem' in key ? pemFileNames('', key.pem).keyFile : keyFileBySealed.get(key.sealed);
      let keyPem = 'pem' in key ? key.pem : undefined;
      if ('sealed' in key) sealedUsed.add(key.sealed);
      const keyKnown =
        keyFile !== undefined &&
        known.has(join(options.certsDir, keyFile)) &&
        (onDisk === undefined || onDisk.get(options.certsDir)!.has(keyFile));
      if (!keyKnown && keyPem === undefined && 'sealed' in key) {
        keyPem = options.box.openText(key.sealed, key.context);
        keyFile = pemFileNames('', keyPem).keyFile;
        keyFileBySealed.set(key.sealed, keyFile);
      }
      await writeOnce(options.certsDir, certFile, certPem, 0o644);
      if (keyPem !== undefined) await writeOnce(options.certsDir, keyFile!, keyPem, 0o600);
      return {
        names: [certFile, keyFile!],
        files: { certFile: join(certsForTraefik, certFile), keyFile: join(certsForTraefik, keyFile!) },
      };
    }

    /** Queued: removals run in `finish`, after every write of the burst has landed. */
    function remove(dir: string, name: string): void {
      removals.push({ dir, name });
      onDisk?.get(dir)?.delete(name);
    }

    async function removeNow(dir: string, name: string): Promise<void> {
      try {
        await unlink(join(dir, name));
        changed.push(name);
        touchedDirs.add(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      known.delete(join(dir, name));
    }

    async function commitStaged(): Promise<void> {
      const all = [...staged.pems, ...staged.yaml];
      if (all.length === 0) return;
      try {
        const dirs = new Set(all.map((file) => file.dir));
        await Promise.all([...dirs].map((dir) => flushFileSystem(dir)));
      } catch {
        // No `sync` binary (or it failed): the slow, equally durable way.
        await mapConcurrently(all, fsyncStagedFile);
      }
      await inBatches(staged.pems, commitStagedFileSync);
      await inBatches(staged.yaml, commitStagedFileSync);
      staged.pems = [];
      staged.yaml = [];
    }

    return {
      /** Writes the core file and the default certificate's PEMs; returns those PEM names. */
      async writeCore(defaultCertificate: PemPair): Promise<string[]> {
        const pems = await writePems(defaultCertificate.certPem, { pem: defaultCertificate.keyPem });
        await writeYaml(
          CORE_FILE_NAME,
          renderCoreConfig({
            http01ResponderUrl: options.http01ResponderUrl,
            onDemandTerminator: options.onDemandTerminator,
            defaultCertificate: pems.files,
          }),
        );
        return pems.names;
      },
      /**
       * Writes the on-demand file (a router and certificate per issued on-demand host) and its PEMs; returns the
       * PEM names. Nothing when no on-demand upstream is configured.
       */
      async writeOnDemand(hosts: readonly OnDemandHostModel[]): Promise<string[]> {
        const upstreamUrl = options.onDemandUpstreamUrl;
        if (!upstreamUrl) return [];
        const pemNames: string[] = [];
        const rendered = [];
        for (const host of hosts) {
          const pems = await writePems(host.chainPem, {
            sealed: host.keySealed,
            context: certificateKeyContext(host.certificateId),
          });
          pemNames.push(...pems.names);
          rendered.push({ hostname: host.hostname, certificate: pems.files });
        }
        await writeYaml(ON_DEMAND_FILE_NAME, renderOnDemandConfig({ upstreamUrl, hosts: rendered }));
        return pemNames;
      },
      /**
       * Writes one app's PEMs and file; undefined (nothing written) when it has no upstream yet, or neither a
       * domain nor a TCP port.
       */
      async writeApp(app: AppModel): Promise<AppFiles | undefined> {
        if (!app.upstream || (app.domains.length === 0 && app.tcp.length === 0)) return undefined;
        const pemNames: string[] = [];
        const certificates = [];
        for (const choice of app.certificates) {
          const pems = await writePems(choice.certPem, {
            sealed: choice.keySealed,
            context: choiceKeyContext(choice),
          });
          pemNames.push(...pems.names);
          certificates.push(pems.files);
        }
        const file = appFileName(app.slug);
        await writeYaml(
          file,
          renderAppConfig({
            slug: app.slug,
            upstream: app.upstream,
            domains: app.domains,
            certificates,
            tcp: app.tcp,
          }),
        );
        return { file, pems: pemNames };
      },
      /** Queues removal of an app file (done in `finish`, after the writes). */
      removeYaml: (name: string) => remove(options.dynamicDir, name),
      /** Queues removal of a PEM file (done in `finish`, after the writes). */
      removePem: (name: string) => remove(options.certsDir, name),
      /**
       * Full pass only: removes our files found at the burst's start that are not in `keep` (apps deleted,
       * certificates replaced); `keepPems` undefined keeps every PEM file. Anything not named like ours is
       * left alone.
       */
      removeOrphans(keepYaml: ReadonlySet<string>, keepPems: ReadonlySet<string> | undefined): void {
        if (!onDisk) throw new Error('removeOrphans needs a burst started with verifyDisk');
        for (const name of [...onDisk.get(options.dynamicDir)!]) {
          if (APP_FILE_PATTERN.test(name) && !keepYaml.has(name)) remove(options.dynamicDir, name);
        }
        for (const name of [...onDisk.get(options.certsDir)!]) {
          if (keepPems && PEM_FILE_PATTERN.test(name) && !keepPems.has(name)) remove(options.certsDir, name);
        }
      },
      /**
       * Lands the burst: staged files made durable and renamed (PEMs first), then the queued removals, then
       * one fsync per touched directory. Returns the names written or removed.
       */
      async finish(): Promise<string[]> {
        await commitStaged();
        for (const { dir, name } of removals) await removeNow(dir, name);
        if (onDisk) {
          for (const sealed of keyFileBySealed.keys())
            if (!sealedUsed.has(sealed)) keyFileBySealed.delete(sealed);
        }
        await Promise.all([...touchedDirs].map((dir) => fsyncDirectory(dir)));
        return changed;
      },
      /** Gives the burst up after a failure: staged files deleted, and forgotten so they are written again. */
      async abort(): Promise<void> {
        for (const file of [...staged.pems, ...staged.yaml]) {
          known.delete(join(file.dir, file.name));
          await discardStagedFile(file);
        }
        staged.pems = [];
        staged.yaml = [];
      },
    };
  }

  return { startBurst };
}

export type WriteBurst = Awaited<ReturnType<DirectoryWriter['startBurst']>>;

/** Items handled between two yields to the event loop in a long burst (a few milliseconds of work). */
const YIELD_EVERY = 64;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `work` over `items` with at most WRITE_CONCURRENCY in flight; results keep the items' order. Yields
 * to the event loop every YIELD_EVERY items: a full pass stages its files with blocking calls, and health
 * checks and consumers must still be answered meanwhile.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      if (index > 0 && index % YIELD_EVERY === 0) await yieldToEventLoop();
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
  return results;
}

function readFileIfExistsSync(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function inBatches<T>(items: readonly T[], work: (item: T) => void): Promise<void> {
  for (let index = 0; index < items.length; index++) {
    if (index > 0 && index % YIELD_EVERY === 0) await yieldToEventLoop();
    work(items[index]!);
  }
}

function sha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}
