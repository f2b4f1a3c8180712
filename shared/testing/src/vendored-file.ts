import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What a vendored file's SOURCE.md records about it, beside the sha256 the file has now. */
export interface VendoredFileDigest {
  /** The `sha256: <hex>` line of the SOURCE.md in the file's folder. */
  recorded: string;
  /** The sha256 of the file as it is. */
  actual: string;
}

/**
 * Reads the sha256 that `SOURCE.md` beside `file` records and hashes the file itself, so a test can hold a vendored
 * copy (a schema taken verbatim from upstream) to its recorded origin without anything outside the repository.
 * Throws when SOURCE.md is missing or names no sha256: a vendored file without a recorded origin is an error.
 */
export async function readVendoredFileDigest(file: string): Promise<VendoredFileDigest> {
  const source = await readFile(join(dirname(file), 'SOURCE.md'), 'utf8');
  const recorded = /^sha256:\s*([0-9a-f]{64})\s*$/m.exec(source)?.[1];
  if (recorded === undefined) {
    throw new Error(`SOURCE.md beside ${basename(file)} has no "sha256: <64 hex digits>" line`);
  }
  const actual = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  return { recorded, actual };
}
