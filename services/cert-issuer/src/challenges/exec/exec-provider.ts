import { execFile } from 'node:child_process';
import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { execCommandReason } from '@gatehouse/config';
import type { DnsProvider } from '../dns-provider.ts';
import { DnsProviderError } from '../dns-provider-error.ts';
import { summarizeOutput } from './output-summary.ts';

export interface ExecProviderOptions {
  /** Absolute path of the operator's program; MUST lie inside `directory`. */
  command: string;
  /** `DNS_EXEC_DIR`: the only directory programs run from; undefined refuses every program. */
  directory: string | undefined;
  timeoutMs?: number;
}

/**
 * The whole environment a DNS program gets. Never this process's: that holds DATABASE_URL, the master key and
 * NATS credentials, and a program registered through the API must not read them. Scripts that need their own
 * credentials read them from files beside themselves in DNS_EXEC_DIR.
 */
export const execEnvironment: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
};

/** Output beyond this is not read; a program that writes more is stopped. */
const maxOutputBytes = 64 * 1024;

/**
 * An operator's program writes the records, called as lego's `exec` provider calls it (so existing scripts
 * work): `<command> present <fqdn.> <value>` and `<command> cleanup <fqdn.> <value>`, without a shell (the
 * arguments cannot inject anything), with a minimal environment (`execEnvironment`) and a timeout. Exit 0 is
 * success. Only programs inside `DNS_EXEC_DIR` run, judged by their real path (symbolic links resolved) right
 * before each run; an error says how the program failed and a short sanitised summary of its stderr, never the
 * stderr itself (it reaches the API, attempts and mails).
 */
export function createExecProvider(options: ExecProviderOptions): DnsProvider {
  const timeoutMs = options.timeoutMs ?? 60_000;

  async function allowedProgram(): Promise<string> {
    const spelled = execCommandReason(options.directory, options.command);
    if (spelled) throw new DnsProviderError('refused', `the DNS program ${options.command} ${spelled}`);
    const directory = options.directory!;
    let real: string;
    let realDirectory: string;
    try {
      [real, realDirectory] = await Promise.all([realpath(options.command), realpath(directory)]);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new DnsProviderError(
        'refused',
        `the DNS program ${options.command} cannot be run (${code}): check the path and that it is executable`,
        { cause: error },
      );
    }
    if (!real.startsWith(realDirectory === sep ? sep : `${realDirectory}${sep}`))
      throw new DnsProviderError(
        'refused',
        `the DNS program ${options.command} leads outside ${directory} (DNS_EXEC_DIR) through a symbolic link`,
      );
    if (!(await stat(real)).isFile())
      throw new DnsProviderError('refused', `the DNS program ${options.command} is not a file`);
    return real;
  }

  async function run(action: 'present' | 'cleanup', fqdn: string, value: string): Promise<void> {
    const program = await allowedProgram();
    const args = [action, `${fqdn.replace(/\.$/, '')}.`, value];
    return new Promise((resolve, reject) => {
      execFile(
        program,
        args,
        {
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          env: execEnvironment,
          cwd: options.directory,
          maxBuffer: maxOutputBytes,
          windowsHide: true,
        },
        (error, _stdout, stderr) => {
          if (!error) return resolve();
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          if (failure.code === 'ENOENT' || failure.code === 'EACCES')
            return reject(
              new DnsProviderError(
                'refused',
                `the DNS program ${options.command} cannot be run (${failure.code}): check the path and that it is executable`,
              ),
            );
          if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
            return reject(
              new DnsProviderError(
                'server',
                `the DNS program ${options.command} ${action} wrote more than ${maxOutputBytes} bytes and was stopped`,
              ),
            );
          if (failure.killed)
            return reject(
              new DnsProviderError(
                'timeout',
                `the DNS program ${options.command} ${action} ran longer than ${timeoutMs} ms and was stopped`,
              ),
            );
          const said = summarizeOutput(String(stderr), [value]);
          reject(
            new DnsProviderError(
              'server',
              `the DNS program ${options.command} ${action} ${args[1]} exited with ${failure.code}${said ? `: ${said}` : ''}`,
            ),
          );
        },
      );
    });
  }

  return {
    kind: 'exec',
    present: (fqdn, value) => run('present', fqdn, value),
    cleanup: (fqdn, value) => run('cleanup', fqdn, value),
  };
}
