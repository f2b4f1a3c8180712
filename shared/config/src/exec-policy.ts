import { isAbsolute, normalize, sep } from 'node:path';
import { z } from 'zod';

/** `DNS_EXEC_DIR`: an absolute directory, kept without a trailing slash. */
export const execDirectory = z
  .string()
  .refine((value) => isAbsolute(value), 'expected an absolute directory such as /etc/gatehouse/dns-hooks')
  .transform((value) => normalize(value).replace(/(.)\/+$/, '$1'));

/**
 * Why `command` may not be run as a DNS program under `dir` (undefined: it may, as far as its spelling goes).
 * Programs run only from the directory the operator set (`DNS_EXEC_DIR`); unset, none run at all. This judges
 * the path as written; the service that runs it checks the real path again (symbolic links) right before.
 */
export function execCommandReason(dir: string | undefined, command: string): string | undefined {
  if (!dir) return 'exec DNS providers are disabled on this server (DNS_EXEC_DIR is not set)';
  if (!isAbsolute(command) || /[\0\s]/.test(command)) return 'expected an absolute path to an executable';
  if (command.split('/').some((part) => part === '..' || part === '.'))
    return 'must not contain . or .. path segments';
  const root = dir === sep ? sep : `${dir}${sep}`;
  if (!normalize(command).startsWith(root)) return `must be a program inside ${dir} (DNS_EXEC_DIR)`;
  return undefined;
}
