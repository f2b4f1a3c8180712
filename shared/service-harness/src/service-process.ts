import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, waitFor } from '@gatehouse/testing';

/** The repository's root: this file is shared/service-harness/src/service-process.ts. */
export const repoRoot = join(import.meta.dirname, '..', '..', '..');

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Service processes still running. A test that times out, or fails before its cleanup, would leave them
 * running after its file ends (seen: schedulers and an api polling dropped databases for half an hour, taking CPU
 * from every later test), so they are killed when this process (the test file's fork) exits.
 */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Runs `services/<name>/src/main.ts` with exactly the given environment (plus PATH). */
export function startServiceProcess(name: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'services', name, 'src', 'main.ts')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
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

export interface ReadyServiceProcess extends ServiceProcess {
  /** Base URL of its /healthz, /readyz and /metrics. */
  healthUrl: string;
}

/**
 * Starts `services/<name>` on a free health port and waits until its /readyz answers 200; if it never
 * does, the error carries the service's output.
 */
export async function startReadyService(
  name: string,
  env: Record<string, string>,
): Promise<ReadyServiceProcess> {
  const healthPort = await freePort();
  const child = startServiceProcess(name, {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
    ...env,
  });
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  await waitFor(
    `${name} ready`,
    async () => (await fetch(`${healthUrl}/readyz`).catch(() => undefined))?.status === 200,
    { timeoutMs: 30_000, intervalMs: 100 },
  ).catch((error) => {
    throw new Error(`${name} did not become ready:\n${child.output()}`, { cause: error });
  });
  return { ...child, healthUrl };
}
