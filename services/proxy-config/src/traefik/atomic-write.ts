import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export type WriteOutcome = 'written' | 'unchanged';

export interface WriteOptions {
  /** File mode of a new or replaced file; 0o600 for private keys. Default 0o644. */
  mode?: number;
  /**
   * fsync the directory after the rename (default true). A caller writing many files in one burst passes
   * false and calls `fsyncDirectory` once at the end: the renames are durable from then on.
   */
  syncDirectory?: boolean;
  /** The caller already knows the file does not hold these bytes: skip reading it to compare. */
  knownDifferent?: boolean;
}

/**
 * Puts `content` at `dir/name` so readers see the old bytes or the new ones, never a partial file:
 * writes `.<name>.tmp-<random>` in the same directory (a name not ending in `.yml`, which Traefik's directory
 * watcher ignores), fsyncs it, renames it over the target and fsyncs the directory so the rename survives a
 * crash. Returns 'unchanged' without touching the file (mtime kept) when it already holds exactly these bytes.
 * The temp file is removed if any step fails. Callers MUST validate YAML before calling this.
 */
export async function writeFileAtomic(
  dir: string,
  name: string,
  content: string | Uint8Array,
  options: WriteOptions = {},
): Promise<WriteOutcome> {
  if (name.includes('/') || name === '' || name === '.' || name === '..') {
    throw new TypeError(`'${name}' is not a plain file name`);
  }
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  const mode = options.mode ?? 0o644;
  const target = join(dir, name);
  if (!options.knownDifferent) {
    const existing = await readFileIfExists(target);
    if (existing?.equals(bytes)) return 'unchanged';
  }

  const staged = await stageFile(dir, name, bytes, { mode, fsync: true });
  await commitStagedFile(staged);
  if (options.syncDirectory !== false) await fsyncDirectory(dir);
  return 'written';
}

/** A file's new bytes under a temp name in its directory, not yet renamed into place. */
export interface StagedFile {
  dir: string;
  name: string;
  temp: string;
}

/**
 * First half of an atomic write: `.<name>.tmp-<random>` created with `mode` and filled. With `fsync: false`
 * the bytes are not durable yet: the caller MUST make them so (`flushFileSystem`, or `fsyncStagedFile`)
 * before `commitStagedFile`, or a crash could leave an empty file under the real name.
 */
export async function stageFile(
  dir: string,
  name: string,
  bytes: Uint8Array,
  options: { mode: number; fsync: boolean },
): Promise<StagedFile> {
  if (name.includes('/') || name === '' || name === '.' || name === '..') {
    throw new TypeError(`'${name}' is not a plain file name`);
  }
  const temp = join(dir, `.${name}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    // `wx` refuses to follow or reuse anything already at the temp name; mode applies before any byte lands.
    const file = await open(temp, 'wx', options.mode);
    try {
      await file.writeFile(bytes);
      // The process umask may have narrowed the creation mode; set it exactly.
      await file.chmod(options.mode);
      if (options.fsync) await file.sync();
    } finally {
      await file.close();
    }
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  return { dir, name, temp };
}

/**
 * `stageFile` without an fsync, in blocking calls: for bursts of thousands of files, where four promise
 * round trips per file through libuv's pool cost several times the syscalls themselves. Callers yield to
 * the event loop between batches.
 */
export function stageFileSync(dir: string, name: string, bytes: Uint8Array, mode: number): StagedFile {
  if (name.includes('/') || name === '' || name === '.' || name === '..') {
    throw new TypeError(`'${name}' is not a plain file name`);
  }
  const temp = join(dir, `.${name}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const fd = openSync(temp, 'wx', mode);
    try {
      writeSync(fd, bytes);
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {}
    throw error;
  }
  return { dir, name, temp };
}

/** `commitStagedFile` in one blocking call (see stageFileSync). */
export function commitStagedFileSync(staged: StagedFile): void {
  try {
    renameSync(staged.temp, join(staged.dir, staged.name));
  } catch (error) {
    try {
      unlinkSync(staged.temp);
    } catch {}
    throw error;
  }
}

/** Second half: renames the staged bytes over the target (readers see old or new, never partial). */
export async function commitStagedFile(staged: StagedFile): Promise<void> {
  try {
    await rename(staged.temp, join(staged.dir, staged.name));
  } catch (error) {
    await discardStagedFile(staged);
    throw error;
  }
}

export async function discardStagedFile(staged: StagedFile): Promise<void> {
  await unlink(staged.temp).catch(() => undefined);
}

/** Makes one staged file's bytes durable (the fallback when `flushFileSystem` cannot run). */
export async function fsyncStagedFile(staged: StagedFile): Promise<void> {
  const handle = await open(staged.temp, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes every dirty file of the filesystem holding `dir` (syncfs(2), through coreutils `sync -f`). One call
 * makes thousands of staged files durable at once: an fsync per file cost about half a millisecond each on
 * ext4, most of a 10,000-app rebuild. Rejects if `sync` is missing or fails; callers fall back to
 * `fsyncStagedFile`.
 */
export function flushFileSystem(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', dir], (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Deletes the files in `dir` whose names match `owned` (proxy-config's own files, e.g. APP_FILE_PATTERN or
 * PEM_FILE_PATTERN) and are not in `keep`. Anything else in the directory is left alone. Returns the names
 * removed, sorted.
 */
export async function removeOrphans(
  dir: string,
  keep: ReadonlySet<string>,
  owned: RegExp,
): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !owned.test(entry.name) || keep.has(entry.name)) continue;
    try {
      await unlink(join(dir, entry.name));
      removed.push(entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  if (removed.length > 0) await fsyncDirectory(dir);
  return removed.sort();
}

async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** fsyncs a directory, making the renames and unlinks done in it durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
