/**
 * `npm start`: runs the six services locally, one child process each, against the Postgres and NATS of
 * DATABASE_URL and NATS_URL (the services' own defaults when unset), with their logs interleaved:
 *
 *   npm start                  readable lines: `HH:MM:SS service  LEVEL msg key=value ...`
 *   npm start -- --json        the services' JSON lines unchanged (for jq, pino-pretty)
 *
 * Before starting it checks Postgres and NATS accept connections (it never starts them: that is
 * `npm run testbed -- up postgres nats`), and keeps a master key and an API token in `.gatehouse-dev/`
 * of the current directory, created once (mode 0600) and reused, unless GATEHOUSE_MASTER_KEY(_FILE) /
 * GATEHOUSE_API_TOKEN(_FILE) are set. Every other variable passes through to the services.
 *
 * Ports: API 8080, HTTP-01 8081, health 9101–9106 (one per service; a HEALTH_LISTEN in the environment
 * is ignored because six services cannot share it). GATEHOUSE_PORT_OFFSET (an integer, default 0) is
 * added to each, so a second stack runs beside the first with e.g. GATEHOUSE_PORT_OFFSET=1000;
 * API_LISTEN and HTTP01_LISTEN, when set, win over it.
 *
 * Ctrl-C or SIGTERM sends SIGTERM to every service and waits for all to drain (up to 25 s each);
 * a second Ctrl-C kills them. A service that exits on its own stops the others, and `npm start` exits
 * with its code (1 if it had none).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, serviceEnvShape } from '@gatehouse/config';
import { z } from 'zod';
import { formatLogLine, type Style } from './start/format-log-line.ts';

/** Health ports are each service's `defaultHealthPort` in its main.ts. */
const services: Array<{ name: string; healthPort: number; style: Style }> = [
  { name: 'api', healthPort: 9101, style: 'cyan' },
  { name: 'deployer', healthPort: 9102, style: 'magenta' },
  { name: 'cert-issuer', healthPort: 9103, style: 'green' },
  { name: 'renewal-scheduler', healthPort: 9104, style: 'yellow' },
  { name: 'proxy-config', healthPort: 9105, style: 'blue' },
  { name: 'notifier', healthPort: 9106, style: 'magentaBright' },
];
const repoRoot = join(import.meta.dirname, '..');
const width = Math.max(...services.map((service) => service.name.length));
/** Services drain within 25 s (run-service.ts); past this, whatever is left is killed. */
const killAfterMs = 30_000;

const { values: flags } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const env = process.env;
const color = !flags.json && process.stdout.isTTY === true && !env.NO_COLOR;

/** start.ts's own messages, in the same shape as the services' lines. */
function say(level: 'info' | 'warn' | 'error', msg: string): void {
  const record = JSON.stringify({ level, time: new Date().toISOString(), service: 'start', msg });
  const line = flags.json
    ? record
    : formatLogLine(record, { service: 'start', width, color, serviceStyle: 'bold' });
  process.stdout.write(`${line}\n`);
}

function isSet(variable: string): boolean {
  return Boolean(env[variable]?.trim() || env[`${variable}_FILE`]?.trim());
}

// --- configuration ---------------------------------------------------------------------------------

const offsetText = env.GATEHOUSE_PORT_OFFSET?.trim() || '0';
const offset = Number(offsetText);
if (!/^-?\d+$/.test(offsetText) || 8080 + offset < 1 || 9106 + offset > 65535) {
  say(
    'error',
    `GATEHOUSE_PORT_OFFSET: expected an integer that keeps ports 8080–9106 within 1–65535 (got "${offsetText}")`,
  );
  process.exit(1);
}

let connections: { DATABASE_URL: string; NATS_URL: string[] };
try {
  // The services' own schema, so the defaults and the checks are theirs.
  const { DATABASE_URL, NATS_URL } = serviceEnvShape;
  connections = loadConfig(z.object({ DATABASE_URL, NATS_URL }), env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  say('error', error.message);
  process.exit(1);
}

const childEnv: NodeJS.ProcessEnv = { ...env };
if (env.HEALTH_LISTEN) {
  say('warn', 'HEALTH_LISTEN is ignored: each service gets its own health port (see GATEHOUSE_PORT_OFFSET)');
  delete childEnv.HEALTH_LISTEN;
}
childEnv.API_LISTEN ||= `127.0.0.1:${8080 + offset}`;
childEnv.HTTP01_LISTEN ||= `127.0.0.1:${8081 + offset}`;

// --- Postgres and NATS must be up --------------------------------------------------------------------

const database = new URL(connections.DATABASE_URL);
const nats = new URL(
  /^[a-z]+:\/\//.test(connections.NATS_URL[0]!)
    ? connections.NATS_URL[0]!
    : `nats://${connections.NATS_URL[0]}`,
);
const dependencies = [
  {
    what: 'Postgres',
    variable: 'DATABASE_URL',
    host: database.hostname,
    port: Number(database.port || 5432),
  },
  { what: 'NATS', variable: 'NATS_URL', host: nats.hostname, port: Number(nats.port || 4222) },
];
const unreachable = (
  await Promise.all(
    dependencies.map(async (dependency) => {
      const host = dependency.host.replace(/^\[|\]$/g, '') || '127.0.0.1';
      const problem = await connectProblem(host, dependency.port);
      return (
        problem &&
        `${dependency.what} is not reachable at ${host}:${dependency.port} (${dependency.variable}): ${problem}`
      );
    }),
  )
).filter((problem) => problem !== undefined);
if (unreachable.length > 0) {
  for (const problem of unreachable) say('error', problem);
  say(
    'error',
    'start them with `npm run testbed -- up postgres nats`, or point DATABASE_URL / NATS_URL at running ones',
  );
  process.exit(1);
}

/** Why a TCP connection fails, or undefined when it opens. */
function connectProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 3_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('no answer within 3 s');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

// --- local secrets -------------------------------------------------------------------------------------

const devDir = resolve('.gatehouse-dev');

/** `.gatehouse-dev/<name>`, written once with `create()` (mode 0600) and reused after that. */
function secretFile(name: string, create: () => string): string {
  const path = join(devDir, name);
  mkdirSync(devDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${create()}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return path;
}

if (!isSet('GATEHOUSE_MASTER_KEY')) {
  childEnv.GATEHOUSE_MASTER_KEY_FILE = secretFile('master-key', () => randomBytes(32).toString('base64'));
}
// Where the token is, for the hint printed once the services are ready; never the token itself.
let tokenFile = env.GATEHOUSE_API_TOKEN_FILE?.trim() || undefined;
if (!isSet('GATEHOUSE_API_TOKEN')) {
  childEnv.GATEHOUSE_API_TOKEN_FILE = secretFile('api-token', () => randomBytes(32).toString('base64url'));
  tokenFile = relative(process.cwd(), childEnv.GATEHOUSE_API_TOKEN_FILE);
}
const tokenHint = tokenFile ? `$(cat ${tokenFile})` : '$GATEHOUSE_API_TOKEN';

// --- the services --------------------------------------------------------------------------------------

interface Running {
  name: string;
  child: ChildProcess;
}
const running: Running[] = [];
let stopping = false;
let forced = false;
let failure: number | undefined;
let unclean = false;
let closed = 0;

say('info', `starting ${services.map((service) => service.name).join(', ')}`);
for (const service of services) {
  const child = spawn(process.execPath, [join(repoRoot, 'services', service.name, 'src', 'main.ts')], {
    env: { ...childEnv, HEALTH_LISTEN: `127.0.0.1:${service.healthPort + offset}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
      writeServiceLine(service, line),
    );
  }
  child.once('error', (error) => say('error', `${service.name} could not start: ${error.message}`));
  // 'close' comes after the last output line, so a service's final words print before ours.
  child.once('close', (code, signal) => onClose(service.name, code, signal));
  running.push({ name: service.name, child });
}
void announceWhenReady();

function writeServiceLine(service: (typeof services)[number], line: string): void {
  if (flags.json) {
    // stdout stays JSON lines only; anything else (a config error, a crash trace) goes to stderr.
    if (line.startsWith('{')) process.stdout.write(`${line}\n`);
    else process.stderr.write(`${service.name.padEnd(width)} ${line}\n`);
    return;
  }
  const text = formatLogLine(line, { service: service.name, width, color, serviceStyle: service.style });
  process.stdout.write(`${text}\n`);
}

function onClose(name: string, code: number | null, signal: NodeJS.Signals | null): void {
  closed++;
  const how = code !== null ? `code ${code}` : `signal ${signal}`;
  if (!stopping) {
    say('error', `${name} exited unexpectedly (${how}); stopping the other services`);
    failure = code || 1;
    stopAll();
  } else if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT' && !forced) {
    // A service killed by our SIGTERM before it installed its handler stopped as asked.
    say('warn', `${name} did not stop cleanly (${how})`);
    unclean = true;
  }
  if (closed === running.length) finish();
}

function stopAll(): void {
  if (stopping) return;
  stopping = true;
  signalAll('SIGTERM');
  setTimeout(() => {
    say('error', `services still running after ${killAfterMs / 1000} s; killing them`);
    forced = true;
    signalAll('SIGKILL');
  }, killAfterMs).unref();
}

function signalAll(signal: NodeJS.Signals): void {
  for (const { child } of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

function finish(): void {
  const code = failure ?? (forced ? 130 : unclean ? 1 : 0);
  say(
    code === 0 ? 'info' : 'error',
    code === 0 ? 'all services stopped' : `all services stopped; exiting with ${code}`,
  );
  process.stdout.write('', () => process.exit(code));
}

// npm forwards the terminal's SIGINT to us, and the terminal sends it too: one Ctrl-C arrives twice, so
// only a signal at least a second after the first counts as "again".
let firstSignalAt = 0;
function onSignal(signal: NodeJS.Signals): void {
  if (!stopping) {
    firstSignalAt = Date.now();
    say('info', `${signal}: stopping all services (Ctrl-C again to kill them)`);
    stopAll();
  } else if (Date.now() - firstSignalAt > 1_000 && !forced) {
    say('warn', 'killing all services');
    forced = true;
    signalAll('SIGKILL');
  }
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Should this process die of a bug, it takes its children with it rather than leave them running.
process.on('exit', () => signalAll('SIGKILL'));

/** Says once where the API is, when all six report ready. */
async function announceWhenReady(): Promise<void> {
  while (!stopping) {
    const ready = await Promise.all(
      services.map(async (service) => {
        try {
          const response = await fetch(`http://127.0.0.1:${service.healthPort + offset}/readyz`, {
            signal: AbortSignal.timeout(1_000),
          });
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      }),
    );
    if (stopping) return;
    if (ready.every(Boolean)) {
      const api = `http://${childEnv.API_LISTEN}`;
      say(
        'info',
        `all six services ready; API at ${api}, dashboard at ${api}/, token in ${tokenFile ?? 'GATEHOUSE_API_TOKEN'}`,
      );
      say('info', `try: curl -H "Authorization: Bearer ${tokenHint}" ${api}/v1/apps`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
