import { connect } from 'node:net';
import { sleep } from '@gatehouse/messaging';
import type Docker from 'dockerode';
import { DeployError } from '../errors.ts';
import { containerLabels, containerName, labelKeys, managedFilter, tcpProxyRole } from './labels.ts';

/** What deployer needs to run one revision of an app (the `apps.*` spec or an apps row). */
export interface AppSpec {
  id: string;
  name: string;
  image: string;
  port: number;
  env: Record<string, string>;
  command: string[] | null;
  revision: number;
  /** Memory limit in MiB (swap included: the container gets no swap beyond it). */
  memoryMb: number;
  /** How many processes the container may run. */
  pidsLimit: number;
  /** `shared`: ContainerOptions.network; `isolated`: the app's own network (`appNetworkName`). */
  network: 'shared' | 'isolated';
}

/** A container carrying the `gatehouse.managed` label, as listed by Docker. */
export interface ManagedContainer {
  id: string;
  name: string;
  appId: string;
  appName: string;
  revision: number;
  /** Docker's state: `created`, `running`, `restarting`, `exited`, `dead`, … */
  state: string;
}

export interface ContainerOptions {
  /** GATEHOUSE_STACK: the `gatehouse.stack` label value. */
  stack: string;
  network: string;
  imagePull: 'missing' | 'never';
  pullTimeoutMs: number;
  /** TRAEFIK_CONTAINER: joined to every isolated app's network so it can reach the app. */
  traefikContainer?: string | undefined;
}

/** The network of an app with `network: isolated`: only the app's containers and Traefik are on it. */
export function appNetworkName(stack: string, appName: string): string {
  return `${stack}-app-${appName}`;
}

/** Where the app's containers are attached: the shared apps network, the app's own, or the host's. */
export function networkOf(
  app: Pick<AppSpec, 'name' | 'network'>,
  options: Pick<ContainerOptions, 'stack' | 'network'>,
): string {
  if (app.network === 'isolated' && options.network !== 'host')
    return appNetworkName(options.stack, app.name);
  return options.network;
}

/**
 * What Docker is asked to create for one app revision. App containers are not trusted (issue 12): no process
 * in them may gain privileges (setuid binaries, file capabilities), raw sockets are dropped (no ARP or ICMP
 * spoofing on the apps network), and memory (swap included) and processes are bounded.
 */
export function containerCreateOptions(
  app: AppSpec,
  options: ContainerOptions,
): Docker.ContainerCreateOptions {
  const memory = app.memoryMb * 1024 * 1024;
  return {
    name: containerName(app.name, app.revision),
    Image: app.image,
    Env: [...Object.entries(app.env).map(([key, value]) => `${key}=${value}`), `PORT=${app.port}`],
    Labels: containerLabels(options.stack, app),
    ...(app.command ? { Cmd: app.command } : {}),
    HostConfig: {
      NetworkMode: networkOf(app, options),
      RestartPolicy: { Name: 'unless-stopped' },
      // A PID 1 that ignores SIGTERM (busybox httpd) would otherwise make every stop take 10 s.
      Init: true,
      SecurityOpt: ['no-new-privileges:true'],
      CapDrop: ['NET_RAW'],
      Memory: memory,
      MemorySwap: memory,
      PidsLimit: app.pidsLimit,
    },
  };
}

/**
 * Creates the isolated app's network when missing (labelled with the stack, so it is found again) and joins
 * Traefik to it; both steps are idempotent. On the host network (tests) there is nothing to isolate with.
 */
export async function ensureAppNetwork(
  docker: Docker,
  app: AppSpec,
  options: ContainerOptions,
): Promise<void> {
  if (app.network !== 'isolated' || options.network === 'host') return;
  const name = appNetworkName(options.stack, app.name);
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { [labelKeys.managed]: 'true', [labelKeys.stack]: options.stack, [labelKeys.appId]: app.id },
    });
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
  }
  if (!options.traefikContainer) return;
  try {
    await docker.getNetwork(name).connect({ Container: options.traefikContainer });
  } catch (error) {
    // 403/409: Traefik is already on it.
    if (statusOf(error) !== 403 && statusOf(error) !== 409) throw error;
  }
}

/** Removes an isolated app's network once its containers are gone (Traefik is disconnected first). */
export async function removeAppNetwork(
  docker: Docker,
  appName: string,
  options: ContainerOptions,
): Promise<void> {
  if (options.network === 'host') return;
  const network = docker.getNetwork(appNetworkName(options.stack, appName));
  if (options.traefikContainer)
    await network.disconnect({ Container: options.traefikContainer, Force: true }).catch(() => undefined);
  await network.remove().catch((error: unknown) => {
    if (statusOf(error) !== 404) throw error;
  });
}

interface DockerApiError {
  statusCode?: number;
  json?: { message?: string } | null;
  message?: string;
}

export function statusOf(error: unknown): number | undefined {
  return (error as DockerApiError | undefined)?.statusCode;
}

export function messageOf(error: unknown): string {
  const apiError = error as DockerApiError | undefined;
  return apiError?.json?.message ?? apiError?.message ?? String(error);
}

/** Managed containers, all of them or one app's, stopped ones included. */
export async function listManagedContainers(
  docker: Docker,
  stack: string,
  appId?: string,
): Promise<ManagedContainer[]> {
  const containers = await docker.listContainers({ all: true, filters: managedFilter(stack, appId) });
  // TCP proxies carry the managed labels too (the event watch and `docker ps` filters find them) but are not
  // revisions of the app: tcp-proxies.ts owns them.
  return containers
    .filter((container) => container.Labels[labelKeys.role] !== tcpProxyRole)
    .map((container) => ({
      id: container.Id,
      name: (container.Names[0] ?? '').replace(/^\//, ''),
      appId: container.Labels[labelKeys.appId] ?? '',
      appName: container.Labels[labelKeys.app] ?? '',
      revision: Number(container.Labels[labelKeys.revision] ?? -1),
      state: container.State,
    }));
}

/**
 * Creates and starts the container of one app revision and returns its id. Converges on
 * redelivery: a container of the same name (same app, same revision) is reused, started if needed.
 * A missing image is pulled when allowed (bounded); otherwise, or when the pull fails,
 * `DeployError('image-missing')`.
 */
export async function startAppContainer(
  docker: Docker,
  app: AppSpec,
  options: ContainerOptions,
): Promise<string> {
  const name = containerName(app.name, app.revision);
  const body = containerCreateOptions(app, options);
  await ensureAppNetwork(docker, app, options);
  let id: string;
  try {
    id = (await createWithPull(docker, body, options)).id;
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
    // Name taken: an earlier delivery created it. Reuse it only if it is really this revision.
    const existing = await docker.getContainer(name).inspect();
    if (
      existing.Config.Labels[labelKeys.appId] !== app.id ||
      existing.Config.Labels[labelKeys.revision] !== String(app.revision)
    ) {
      throw new Error(`container name ${name} is taken by a container that is not this app revision`);
    }
    id = existing.Id;
  }
  try {
    await docker.getContainer(id).start();
  } catch (error) {
    if (statusOf(error) === 304) return id; // Already running.
    throw new DeployError('start-failed', `container ${name} did not start: ${messageOf(error)}`, {
      cause: error,
    });
  }
  return id;
}

async function createWithPull(
  docker: Docker,
  body: Docker.ContainerCreateOptions,
  options: ContainerOptions,
): Promise<Docker.Container> {
  try {
    return await docker.createContainer(body);
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
    const image = body.Image ?? '';
    if (options.imagePull === 'never') {
      throw new DeployError('image-missing', `image ${image} is not present on the Docker host`, {
        cause: error,
      });
    }
    try {
      await pullImage(docker, image, options.pullTimeoutMs);
    } catch (pullError) {
      throw new DeployError(
        'image-missing',
        `image ${image} is not present and could not be pulled: ${messageOf(pullError)}`,
        { cause: pullError },
      );
    }
    return docker.createContainer(body);
  }
}

async function pullImage(docker: Docker, image: string, timeoutMs: number): Promise<void> {
  const abort = AbortSignal.timeout(timeoutMs);
  const stream = await docker.pull(image, { abortSignal: abort });
  await new Promise<void>((resolve, reject) => {
    abort.addEventListener('abort', () => reject(new Error(`pull took longer than ${timeoutMs} ms`)));
    docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string }>) => {
      const failed = output?.find((line) => line.error);
      if (error) reject(error);
      else if (failed) reject(new Error(failed.error));
      else resolve();
    });
  });
}

/** How often the port is tried while a new container is not answering yet: a refused loopback connect is cheap. */
const probeIntervalMs = 50;
/**
 * How often the container is inspected meanwhile (whether it exited or is restarting). An inspect costs dockerd
 * ~0.4 ms and this process ~0.7 ms of CPU; an app that takes seconds to listen was inspected 20 times a second.
 */
const inspectIntervalMs = 250;

/**
 * Resolves once the container accepts a TCP connection on host:port. Fails with `start-failed`
 * when it exits (or Docker is restarting it) and with `unhealthy` when it is still silent after
 * `timeoutMs`. The container is inspected before the first try and then every {@link inspectIntervalMs}.
 */
export async function waitUntilAnswers(
  docker: Docker,
  containerId: string,
  upstream: { host: string; port: number },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let nextInspect = 0;
  let name = containerId;
  for (;;) {
    if (Date.now() >= nextInspect) {
      const info = await docker.getContainer(containerId).inspect();
      name = info.Name.replace(/^\//, '');
      if (!info.State.Running || info.State.Restarting || info.RestartCount > 0) {
        const logs = await logTail(docker, containerId);
        throw new DeployError(
          'start-failed',
          `container ${name} exited with code ${info.State.ExitCode}${logs ? `: ${logs}` : ''}`,
        );
      }
      nextInspect = Date.now() + inspectIntervalMs;
    }
    if (await answers(upstream.host, upstream.port)) return;
    if (Date.now() > deadline) {
      throw new DeployError(
        'unhealthy',
        `container ${name} did not accept connections on ${upstream.host}:${upstream.port} within ${timeoutMs} ms`,
      );
    }
    // A first answer usually comes within tens of milliseconds of the start.
    await sleep(probeIntervalMs);
  }
}

/** Whether something accepts a TCP connection on host:port within a second. */
export function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** The last lines a container wrote (stdout and stderr), at most 500 characters; '' when they cannot be read. */
export async function logTail(docker: Docker, containerId: string): Promise<string> {
  try {
    const buffer = (await docker
      .getContainer(containerId)
      .logs({ stdout: true, stderr: true, tail: 5, follow: false })) as unknown as Buffer;
    return demultiplex(buffer).trim().slice(-500);
  } catch {
    return '';
  }
}

/** Docker's multiplexed log stream: frames of an 8-byte header (stream, 0, 0, 0, size BE) and a payload. */
function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Stops and removes a container; one that is already gone counts as removed. */
export async function removeContainer(docker: Docker, containerId: string): Promise<void> {
  const container = docker.getContainer(containerId);
  try {
    await container.stop({ t: 10 });
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return;
    if (status !== 304) throw error;
  }
  try {
    await container.remove({ force: true });
  } catch (error) {
    const status = statusOf(error);
    // 409: removal already in progress (another replica, or Docker's own cleanup).
    if (status !== 404 && status !== 409) throw error;
  }
}
