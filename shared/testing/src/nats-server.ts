import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export interface TestNatsServer {
  url: string;
  port: number;
  /** Stops the server the hard way (SIGKILL), keeping its JetStream store. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  start(): Promise<void>;
  /** Stops it and deletes its store. */
  stop(): Promise<void>;
}

/**
 * A nats-server with JetStream of this test's own, on a free loopback port, so tests can restart
 * it without disturbing anyone else. Needs `nats-server` on PATH (scripts/bootstrap installs it).
 */
export async function startNatsServer({
  port: wanted,
  authorization,
}: {
  port?: number;
  /**
   * A nats-server `authorization { … }` block (per-service users with permissions: render it with
   * `natsServerAuthorization` from @gatehouse/messaging). Unset: no authentication, as before.
   */
  authorization?: string;
} = {}): Promise<TestNatsServer> {
  const port = wanted ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'gh-nats-'));
  let child: ChildProcess | undefined;
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir];
  if (authorization !== undefined) {
    const configFile = join(storeDir, 'auth.conf');
    writeFileSync(configFile, authorization, { mode: 0o600 });
    args.unshift('-c', configFile);
  }

  async function start(): Promise<void> {
    const process = spawn('nats-server', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    process.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child = process;
    try {
      await waitForPort(port, 10_000);
    } catch (error) {
      process.kill('SIGKILL');
      throw new Error(`nats-server did not start on ${port}: ${stderr}`, { cause: error });
    }
  }

  async function kill(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
