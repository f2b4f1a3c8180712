import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const startScript = join(import.meta.dirname, '..', 'scripts', 'start.ts');
/** The ports start.ts shifts by GATEHOUSE_PORT_OFFSET: API, HTTP-01, then the six health ports. */
const defaultPorts = [8080, 8081, 9101, 9102, 9103, 9104, 9105, 9106];
const healthPorts = defaultPorts.slice(2);

interface StartProcess {
  child: ChildProcess;
  output(): string;
  /** The exit code, or the signal's name. */
  exited: Promise<number | string>;
}

/** `node scripts/start.ts` in `cwd` (where it keeps `.gatehouse-dev/`) with exactly `env` plus PATH. */
function runStart(cwd: string, env: Record<string, string>): StartProcess {
  const child = spawn(process.execPath, [startScript], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { child, output: () => output, exited };
}

/** An offset that makes every one of start.ts's ports free, so this stack runs beside any other. */
async function freePortOffset(): Promise<number> {
  for (;;) {
    const offset = (await freePort()) - defaultPorts[0]!;
    if (defaultPorts.at(-1)! + offset > 65535) continue;
    const free = await Promise.all(defaultPorts.map((port) => canListen(port + offset)));
    if (free.every(Boolean)) return offset;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits for every /readyz to answer 200, failing at once (with start.ts's output) should start.ts exit. */
async function untilAllReady(start: StartProcess, offset: number): Promise<void> {
  for (const port of healthPorts) {
    const outcome = await waitFor(
      `ready on health port ${port + offset}`,
      async () => {
        if (start.child.exitCode !== null || start.child.signalCode !== null) return 'exited';
        return (await fetch(`http://127.0.0.1:${port + offset}/readyz`)).status === 200 && 'ready';
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((error) => {
      throw new Error(`not all services became ready:\n${start.output()}`, { cause: error });
    });
    if (outcome === 'exited')
      throw new Error(`start.ts exited before all services were ready:\n${start.output()}`);
  }
}

describe('npm start', () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let base: Record<string, string>;
  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('npm_start'), startNatsServer()]);
    base = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
    };
  });
  afterAll(async () => {
    await Promise.all([database.drop(), nats.stop()]);
  });

  it('start - runs all six services until SIGINT, then stops every one and exits 0', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gh-start-'));
    // A token left by an earlier run is reused; the master key does not exist yet and gets created.
    const token = randomBytes(32).toString('base64url');
    mkdirSync(join(cwd, '.gatehouse-dev'));
    writeFileSync(join(cwd, '.gatehouse-dev', 'api-token'), `${token}\n`, { mode: 0o600 });
    const offset = await freePortOffset();
    const start = runStart(cwd, { ...base, GATEHOUSE_PORT_OFFSET: String(offset) });
    try {
      await untilAllReady(start, offset);
      await waitFor('the ready message', () => start.output().includes('all six services ready'));

      const masterKeyFile = join(cwd, '.gatehouse-dev', 'master-key');
      expect(Buffer.from(readFileSync(masterKeyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
      expect(statSync(masterKeyFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(cwd, '.gatehouse-dev', 'api-token'), 'utf8').trim()).toBe(token);
      const api = `http://127.0.0.1:${8080 + offset}`;
      expect((await fetch(`${api}/v1/apps`)).status).toBe(401);
      const listed = await fetch(`${api}/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
      expect(listed.status).toBe(200);
      expect(await listed.json()).toEqual({ apps: [], nextCursor: null });

      const output = start.output();
      expect(output).not.toContain(token);
      expect(output).toContain(`curl -H "Authorization: Bearer $(cat .gatehouse-dev/api-token)" ${api}/v1/`);
      for (const name of [
        'api',
        'deployer',
        'cert-issuer',
        'renewal-scheduler',
        'proxy-config',
        'notifier',
      ]) {
        expect(output).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${name} +INFO  service started`, 'm'));
      }
      expect(output).not.toMatch(/^\{/m);
    } finally {
      start.child.kill('SIGINT');
    }

    expect(await start.exited).toBe(0);
    expect(start.output()).toContain('all services stopped');
    const stillListening = await Promise.all(defaultPorts.map((port) => isListening(port + offset)));
    expect(stillListening.every((listening) => !listening)).toBe(true);
  }, 180_000);

  it('start - refuses to start without Postgres or NATS, and says how to start them', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gh-start-'));
    const deadPort = await freePort();
    const start = runStart(cwd, { ...base, NATS_URL: `nats://127.0.0.1:${deadPort}` });

    expect(await start.exited).toBe(1);
    expect(start.output()).toContain(`NATS is not reachable at 127.0.0.1:${deadPort} (NATS_URL)`);
    expect(start.output()).toContain('npm run testbed -- up postgres nats');
    expect(start.output()).not.toContain('Postgres is not reachable');
    expect(start.output()).not.toContain('starting api');
  });

  it('start - a service that exits on its own stops the others, and start exits with its code', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gh-start-'));
    const offset = await freePortOffset();
    // The user's own (malformed) key wins over the generated one: the services that read it (api, deployer,
    // cert-issuer, renewal-scheduler, proxy-config) refuse it and exit 78; whichever exits first stops the others.
    const start = runStart(cwd, {
      ...base,
      GATEHOUSE_PORT_OFFSET: String(offset),
      GATEHOUSE_MASTER_KEY: 'short',
    });

    expect(await start.exited).toBe(78);
    expect(start.output()).toContain('GATEHOUSE_MASTER_KEY: expected 32 random bytes');
    expect(start.output()).toMatch(
      /(api|deployer|cert-issuer|renewal-scheduler|proxy-config) exited unexpectedly \(code 78\); stopping the other services/,
    );
    const stillListening = await Promise.all(defaultPorts.map((port) => isListening(port + offset)));
    expect(stillListening.every((listening) => !listening)).toBe(true);
  }, 120_000);
});
