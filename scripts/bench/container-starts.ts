/**
 * Container-start benchmark: what starting app containers costs the Docker engine in CPU, the floor under
 * `bench:e2e`'s 100-app round. Run on demand, never in tests:
 *
 *   npm run bench:container-starts -- --count 100 --concurrency 8
 *
 * Needs the test bed's Docker engine and test image (`gatehouse-test/busybox:1`, made by `scripts/testbed up`).
 * Two phases, one after the other, `count` busybox httpd containers each on the host network, `concurrency` at
 * once: **bare** (dockerode create + start with the deployer's create options) and **deployer** (the deployer's
 * own calls per app: list the app's containers, create, start, wait until the port answers). For each it prints
 * the wall time and the CPU that dockerd, containerd, containerd-shim (runc runs as its child, so it counts in
 * the shim's reaped-children time) and docker-init (the container's PID 1, with the app's own start) used, read
 * from /proc/<pid>/stat, plus this process's CPU and the inspects made; then one ratio line (the deployer path's
 * Docker CPU per container against the bare one) and one JSON line. Containers are removed after each phase, on
 * failure and Ctrl-C too. Linux only (/proc).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort } from '@gatehouse/testing';
import Docker from 'dockerode';
import {
  type AppSpec,
  type ContainerOptions,
  containerCreateOptions,
  listManagedContainers,
  startAppContainer,
  waitUntilAnswers,
} from '../../services/deployer/src/docker/app-containers.ts';
import { removeStackContainers } from '../../services/deployer/test/support.ts';

const { values: flags } = parseArgs({
  options: {
    count: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    image: { type: 'string', default: process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1' },
  },
});
const count = Number(flags.count);
const concurrency = Number(flags.concurrency);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error(
    '--count and --concurrency must be positive whole numbers (example: --count 100 --concurrency 8)',
  );
  process.exit(2);
}

const socketPath = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
const docker = new Docker({ socketPath });
const stack = `bench-starts-${process.pid}`;
const containerOptions: ContainerOptions = {
  stack,
  network: 'host',
  imagePull: 'never',
  pullTimeoutMs: 1_000,
};

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;
const dockerProcess = /^(dockerd|containerd|containerd-shim.*|runc.*|docker-init)$/;

/** CPU ticks (own + reaped children) of every Docker process alive now, by pid. */
function dockerCpuTicks(): Map<number, { comm: string; ticks: number }> {
  const result = new Map<number, { comm: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while listed
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!dockerProcess.test(comm)) continue;
    // Fields after "(comm) ": state is index 0, so utime, stime, cutime, cstime are 11-14.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
    result.set(Number(entry), { comm: comm.startsWith('containerd-shim') ? 'containerd-shim' : comm, ticks });
  }
  return result;
}

/** CPU-seconds per process name used since `before` (processes started since count in full). */
function dockerCpuSince(before: Map<number, { comm: string; ticks: number }>): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [pid, { comm, ticks }] of dockerCpuTicks()) {
    used[comm] = (used[comm] ?? 0) + (ticks - (before.get(pid)?.ticks ?? 0)) / ticksPerSecond;
  }
  return used;
}

async function appSpecs(phase: string): Promise<AppSpec[]> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  return ports.map((port, index) => ({
    id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    name: `${stack}-${phase}-${index}`,
    image: flags.image,
    port,
    env: {},
    command: [
      'sh',
      '-c',
      `mkdir -p /www && echo ok > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${port}`,
    ],
    revision: 1,
    memoryMb: 64,
    pidsLimit: 64,
    network: 'shared',
  }));
}

interface PhaseResult {
  phase: 'bare' | 'deployer';
  wallMs: number;
  dockerCpuSeconds: number;
  dockerCpuMsPerContainer: number;
  byProcess: Record<string, number>;
  benchProcessCpuMs: number;
  inspects: number;
}

async function runPhase(phase: 'bare' | 'deployer'): Promise<PhaseResult> {
  const apps = await appSpecs(phase);
  let inspects = 0;
  // Counts the deployer's inspects (readiness polls) without changing them.
  const counting = Object.create(docker) as Docker;
  counting.getContainer = (id: string) => {
    const container = docker.getContainer(id);
    const inspect = container.inspect.bind(container);
    container.inspect = ((...args: Parameters<typeof inspect>) => {
      inspects++;
      return inspect(...args);
    }) as typeof container.inspect;
    return container;
  };
  const before = dockerCpuTicks();
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < apps.length) {
        const app = apps[next++]!;
        if (phase === 'bare') {
          const container = await docker.createContainer(containerCreateOptions(app, containerOptions));
          await container.start();
        } else {
          await listManagedContainers(counting, stack, app.id);
          const id = await startAppContainer(counting, app, containerOptions);
          await waitUntilAnswers(counting, id, { host: '127.0.0.1', port: app.port }, 60_000);
        }
      }
    }),
  );
  const wallMs = performance.now() - started;
  const own = process.cpuUsage(ownBefore);
  const byProcess = dockerCpuSince(before);
  await removeStackContainers(docker, stack);
  const dockerCpuSeconds = Object.values(byProcess).reduce((sum, seconds) => sum + seconds, 0);
  return {
    phase,
    wallMs: Math.round(wallMs),
    dockerCpuSeconds: Number(dockerCpuSeconds.toFixed(2)),
    dockerCpuMsPerContainer: Math.round((dockerCpuSeconds * 1000) / count),
    byProcess: Object.fromEntries(
      Object.entries(byProcess).map(([name, seconds]) => [name, Number(seconds.toFixed(2))]),
    ),
    benchProcessCpuMs: Math.round((own.user + own.system) / 1000),
    inspects,
  };
}

process.once('SIGINT', () => {
  void removeStackContainers(docker, stack).finally(() => process.exit(130));
});

try {
  const results: PhaseResult[] = [];
  for (const phase of ['bare', 'deployer'] as const) {
    const result = await runPhase(phase);
    results.push(result);
    const parts = Object.entries(result.byProcess)
      .map(([name, seconds]) => `${name} ${seconds}`)
      .join(', ');
    console.log(
      `${phase.padEnd(8)} ${count} starts, ${concurrency} at once: ${result.wallMs} ms wall, Docker ${result.dockerCpuSeconds} CPU-s (${result.dockerCpuMsPerContainer} ms each: ${parts}); this process ${result.benchProcessCpuMs} ms, ${result.inspects} inspects`,
    );
  }
  const [bare, deployer] = results as [PhaseResult, PhaseResult];
  const cores = cpus().length;
  console.log(
    `floor: ${count} starts cost ${bare.dockerCpuSeconds} CPU-s of Docker = ${(bare.dockerCpuSeconds / cores).toFixed(1)} s of ${cores} cores doing nothing else`,
  );
  console.log(
    `ratio deployer path vs bare create+start, Docker CPU per container: ${(deployer.dockerCpuMsPerContainer / bare.dockerCpuMsPerContainer).toFixed(2)}× (1.00 = no overhead)`,
  );
  console.log(JSON.stringify({ count, concurrency, results }));
} catch (error) {
  await removeStackContainers(docker, stack);
  console.error(error);
  process.exit(1);
}
