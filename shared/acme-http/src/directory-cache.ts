import { type AcmeDirectory, AcmeDirectoryError, acmeDirectorySchema } from './acme-directory.ts';

export interface DirectoryCacheOptions {
  /** Reads a directory's JSON body; its errors are passed on as they are (callers classify them). */
  load(directoryUrl: string): Promise<unknown>;
  /** Directories are read again after this long (a CA may start or stop offering ARI or profiles). */
  ttlMs?: number;
  /** For tests: the clock entries age by. */
  now?: () => number;
}

export interface DirectoryCache {
  /** The directory, read at most once per `ttlMs`; concurrent callers share one read; a failed read is not kept. */
  get(directoryUrl: string): Promise<AcmeDirectory>;
}

export function createDirectoryCache(options: DirectoryCacheOptions): DirectoryCache {
  const ttlMs = options.ttlMs ?? 3_600_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { at: number; directory: Promise<AcmeDirectory> }>();

  async function read(directoryUrl: string): Promise<AcmeDirectory> {
    const body = await options.load(directoryUrl);
    const parsed = acmeDirectorySchema.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`,
      );
      throw new AcmeDirectoryError(`${directoryUrl} is not an ACME directory (${problems.join('; ')})`);
    }
    return parsed.data;
  }

  return {
    get(directoryUrl) {
      const cached = entries.get(directoryUrl);
      if (cached && now() - cached.at < ttlMs) return cached.directory;
      const directory = read(directoryUrl);
      entries.set(directoryUrl, { at: now(), directory });
      directory.catch(() => {
        if (entries.get(directoryUrl)?.directory === directory) entries.delete(directoryUrl);
      });
      return directory;
    },
  };
}
