import { execFile } from 'node:child_process';
import type { DnsProvider } from '../dns-provider.ts';
import { DnsProviderError } from '../dns-provider-error.ts';

export interface ExecProviderOptions {
  /** Absolute path of the operator's program. */
  command: string;
  timeoutMs?: number;
}

/**
 * An operator's program writes the records, called as lego's `exec` provider calls it (so existing scripts
 * work): `<command> present <fqdn.> <value>` and `<command> cleanup <fqdn.> <value>`, without a shell (the
 * arguments cannot inject anything), with this process's environment. Exit 0 is success.
 */
export function createExecProvider(options: ExecProviderOptions): DnsProvider {
  const timeoutMs = options.timeoutMs ?? 60_000;

  function run(action: 'present' | 'cleanup', fqdn: string, value: string): Promise<void> {
    const args = [action, `${fqdn.replace(/\.$/, '')}.`, value];
    return new Promise((resolve, reject) => {
      execFile(
        options.command,
        args,
        { timeout: timeoutMs, killSignal: 'SIGKILL' },
        (error, _stdout, stderr) => {
          if (!error) return resolve();
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          const tail = String(stderr).trim().slice(-500);
          const said = tail ? `: ${tail}` : '';
          if (failure.code === 'ENOENT' || failure.code === 'EACCES')
            return reject(
              new DnsProviderError(
                'refused',
                `the DNS program ${options.command} cannot be run (${failure.code}): check the path and that it is executable`,
                { cause: error },
              ),
            );
          if (failure.killed)
            return reject(
              new DnsProviderError(
                'timeout',
                `the DNS program ${options.command} ${action} ran longer than ${timeoutMs} ms and was stopped`,
                {
                  cause: error,
                },
              ),
            );
          reject(
            new DnsProviderError(
              'server',
              `the DNS program ${options.command} ${action} ${args[1]} exited with ${failure.code}${said}`,
              { cause: error },
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
