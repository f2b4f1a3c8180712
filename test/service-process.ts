import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..');

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Runs `services/<name>/src/main.ts` with exactly the given environment (plus PATH). */
export function startServiceProcess(name: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'services', name, 'src', 'main.ts')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // TEST_SERVICE_OUTPUT=1 streams every service's log to the test's stderr, for debugging.
  const echo = process.env.TEST_SERVICE_OUTPUT === '1';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (echo) process.stderr.write(chunk);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return {
    child,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
