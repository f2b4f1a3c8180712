import { access, constants, mkdir } from 'node:fs/promises';

/** Creates the directory if needed and fails unless this process can write to it. */
export async function ensureWritableDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o750 });
  await access(path, constants.W_OK);
}
