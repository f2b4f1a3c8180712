import { createHash } from 'node:crypto';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretBox } from '@gatehouse/pki';
import {
  APP_FILE_PATTERN,
  appFileName,
  CORE_FILE_NAME,
  createTraefikValidator,
  fsyncDirectory,
  PEM_FILE_PATTERN,
  pemFileNames,
  renderAppConfig,
  renderCoreConfig,
  serializeTraefikConfig,
  type TraefikDynamicConfig,
  validateTraefikConfig,
  writeFileAtomic,
} from '../traefik/index.ts';
import type { PemPair } from './default-certificate.ts';
import { type AppModel, certificateKeyContext } from './load-app.ts';

export interface DirectoryWriterOptions {
  dynamicDir: string;
  certsDir: string;
  /** The certificates directory as Traefik sees it (differs when mounted elsewhere in its container). */
  certsDirForTraefik?: string;
  http01ResponderUrl: string;
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

  /** One write burst: collects what changed and fsyncs the touched directories once, in `finish`. */
  async function startBurst(burstOptions: { verifyDisk?: boolean } = {}) {
    const changed: string[] = [];
    const touchedDirs = new Set<string>();
    const inFlight = new Map<string, Promise<void>>();
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
      const outcome = await writeFileAtomic(dir, name, content, {
        mode,
        knownDifferent,
        syncDirectory: false,
      });
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

    async function remove(dir: string, name: string): Promise<void> {
      try {
        await unlink(join(dir, name));
        changed.push(name);
        touchedDirs.add(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      known.delete(join(dir, name));
      onDisk?.get(dir)?.delete(name);
    }

    return {
      /** Writes the core file and the default certificate's PEMs; returns those PEM names. */
      async writeCore(defaultCertificate: PemPair): Promise<string[]> {
        const pems = await writePems(defaultCertificate.certPem, { pem: defaultCertificate.keyPem });
        await writeYaml(
          CORE_FILE_NAME,
          renderCoreConfig({
            http01ResponderUrl: options.http01ResponderUrl,
            defaultCertificate: pems.files,
          }),
        );
        return pems.names;
      },
      /** Writes one app's PEMs and file; undefined (nothing written) when it has no upstream or domain yet. */
      async writeApp(app: AppModel): Promise<AppFiles | undefined> {
        if (!app.upstream || app.domains.length === 0) return undefined;
        const pemNames: string[] = [];
        const certificates = [];
        for (const choice of app.certificates) {
          const pems = await writePems(choice.certPem, {
            sealed: choice.keySealed,
            context: certificateKeyContext(choice),
          });
          pemNames.push(...pems.names);
          certificates.push(pems.files);
        }
        const file = appFileName(app.slug);
        await writeYaml(
          file,
          renderAppConfig({ slug: app.slug, upstream: app.upstream, domains: app.domains, certificates }),
        );
        return { file, pems: pemNames };
      },
      removeYaml: (name: string) => remove(options.dynamicDir, name),
      removePem: (name: string) => remove(options.certsDir, name),
      /**
       * Full pass only: removes our files found at the burst's start that are not in `keep` (apps deleted,
       * certificates replaced). Anything not named like ours is left alone.
       */
      async removeOrphans(keepYaml: ReadonlySet<string>, keepPems: ReadonlySet<string>): Promise<void> {
        if (!onDisk) throw new Error('removeOrphans needs a burst started with verifyDisk');
        for (const name of [...onDisk.get(options.dynamicDir)!]) {
          if (APP_FILE_PATTERN.test(name) && !keepYaml.has(name)) await remove(options.dynamicDir, name);
        }
        for (const name of [...onDisk.get(options.certsDir)!]) {
          if (PEM_FILE_PATTERN.test(name) && !keepPems.has(name)) await remove(options.certsDir, name);
        }
      },
      /** Makes the burst durable (one directory fsync each) and returns the names written or removed. */
      async finish(): Promise<string[]> {
        await Promise.all([...touchedDirs].map((dir) => fsyncDirectory(dir)));
        return changed;
      },
    };
  }

  return { startBurst };
}

export type WriteBurst = Awaited<ReturnType<DirectoryWriter['startBurst']>>;

/** Runs `work` over `items` with at most WRITE_CONCURRENCY in flight; results keep the items' order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
  return results;
}

function sha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}
