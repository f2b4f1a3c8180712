import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretBox } from '@gatehouse/pki';
import {
  APP_FILE_PATTERN,
  commitStagedFileSync,
  discardStagedFile,
  flushFileSystem,
  fsyncDirectory,
  fsyncStagedFile,
  PEM_FILE_PATTERN,
  pemFileNames,
  type StagedFile,
  serializeTraefikConfig,
  stageFileSync,
  type TraefikDynamicConfig,
  type TraefikValidation,
  writeFileAtomic,
} from '../traefik/index.ts';
import { inBatches, mapConcurrently } from './work-in-slices.ts';

/** What survives between bursts: a cache of the disk, never the other way round. */
export interface DirectoryMemory {
  /** `<dir>/<name>` → sha256 of the bytes it holds, as last written or read. */
  known: Map<string, string>;
  /** Sealed key → its PEM file name, so an unchanged key is not decrypted again. */
  keyFileBySealed: Map<string, string>;
}

export interface BurstSettings {
  dynamicDir: string;
  certsDir: string;
  /** The certificates directory as Traefik sees it. */
  certsForTraefik: string;
  validate: (config: unknown) => TraefikValidation;
  box: SecretBox;
  /** List the directories and trust nothing remembered about files not found there (a full pass). */
  verifyDisk: boolean;
}

/** A key as the burst gets it: in clear (the default certificate) or sealed, opened only when needed. */
export type KeySource = { pem: string } | { sealed: string; context: string };

/** A PEM pair written for a file to reference. */
export interface WrittenPems {
  /** File names in the certificates directory. */
  names: string[];
  /** Paths as Traefik reads them. */
  files: { certFile: string; keyFile: string };
}

/**
 * One write burst: collects what changed, removes files only after every write, and fsyncs the touched
 * directories once, in `finish`. Unchanged bytes (by remembered hash) are not written again.
 *
 * A full pass (`verifyDisk`) also stages its files: each is written under its temp name without an fsync,
 * and `finish` makes them all durable with one filesystem flush, then renames the PEM files and then the
 * YAML into place (a YAML file never lands before the PEMs it references). An fsync per file was most of a
 * 10,000-app rebuild. The incremental path writes its few files one by one, each fsynced.
 */
export async function startWriteBurst(settings: BurstSettings, memory: DirectoryMemory) {
  const { dynamicDir, certsDir } = settings;
  const { known, keyFileBySealed } = memory;
  const changed: string[] = [];
  const touchedDirs = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  const staged: { pems: StagedFile[]; yaml: StagedFile[] } = { pems: [], yaml: [] };
  const removals: Array<{ dir: string; name: string }> = [];
  /** Sealed keys this burst used; after a full pass the others are forgotten (renewals replace keys). */
  const sealedUsed = new Set<string>();
  // Names present before the burst; only listed for a full pass (the incremental path trusts memory).
  const onDisk = settings.verifyDisk
    ? new Map([
        [dynamicDir, new Set(await readdir(dynamicDir))],
        [certsDir, new Set(await readdir(certsDir))],
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
        (dir === certsDir ? staged.pems : staged.yaml).push(file);
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
    /** Writes a dynamic-configuration file; validated just before writing (bytes already on disk passed). */
    async writeYaml(name: string, config: TraefikDynamicConfig): Promise<void> {
      await writeOnce(dynamicDir, name, serializeTraefikConfig(config), 0o644, () => {
        const verdict = settings.validate(config);
        if (!verdict.ok) throw new Error(`refusing to write ${name}: ${verdict.errors.join('; ')}`);
      });
    },
    /** Writes a certificate's PEM pair; the key is decrypted only if its file is not known yet. */
    async writePems(certPem: string, key: KeySource): Promise<WrittenPems> {
      const certFile = pemFileNames(certPem, '').certFile;
      let keyFile = 'pem' in key ? pemFileNames('', key.pem).keyFile : keyFileBySealed.get(key.sealed);
      let keyPem = 'pem' in key ? key.pem : undefined;
      if ('sealed' in key) sealedUsed.add(key.sealed);
      const keyKnown =
        keyFile !== undefined &&
        known.has(join(certsDir, keyFile)) &&
        (onDisk === undefined || onDisk.get(certsDir)!.has(keyFile));
      if (!keyKnown && keyPem === undefined && 'sealed' in key) {
        keyPem = settings.box.openText(key.sealed, key.context);
        keyFile = pemFileNames('', keyPem).keyFile;
        keyFileBySealed.set(key.sealed, keyFile);
      }
      await writeOnce(certsDir, certFile, certPem, 0o644);
      if (keyPem !== undefined) await writeOnce(certsDir, keyFile!, keyPem, 0o600);
      return {
        names: [certFile, keyFile!],
        files: {
          certFile: join(settings.certsForTraefik, certFile),
          keyFile: join(settings.certsForTraefik, keyFile!),
        },
      };
    },
    /** Queues removal of an app file (done in `finish`, after the writes). */
    removeYaml: (name: string) => remove(dynamicDir, name),
    /** Queues removal of a PEM file (done in `finish`, after the writes). */
    removePem: (name: string) => remove(certsDir, name),
    /**
     * Full pass only: removes our files found at the burst's start that are not in `keep` (apps deleted,
     * certificates replaced); `keepPems` undefined keeps every PEM file. Anything not named like ours is
     * left alone.
     */
    removeOrphans(keepYaml: ReadonlySet<string>, keepPems: ReadonlySet<string> | undefined): void {
      if (!onDisk) throw new Error('removeOrphans needs a burst started with verifyDisk');
      for (const name of [...onDisk.get(dynamicDir)!]) {
        if (APP_FILE_PATTERN.test(name) && !keepYaml.has(name)) remove(dynamicDir, name);
      }
      for (const name of [...onDisk.get(certsDir)!]) {
        if (keepPems && PEM_FILE_PATTERN.test(name) && !keepPems.has(name)) remove(certsDir, name);
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

function readFileIfExistsSync(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function sha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}
