import { randomBytes } from 'node:crypto';
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

  const temp = join(dir, `.${name}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    // `wx` refuses to follow or reuse anything already at the temp name; mode applies before any byte lands.
    const file = await open(temp, 'wx', mode);
    try {
      await file.writeFile(bytes);
      // The process umask may have narrowed the creation mode; set it exactly.
      await file.chmod(mode);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (options.syncDirectory !== false) await fsyncDirectory(dir);
  return 'written';
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
