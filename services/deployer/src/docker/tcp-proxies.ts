import { createHash } from 'node:crypto';
import type { Db } from '@gatehouse/db';
import { tcpProxyEntryPoint } from '@gatehouse/events';
import type { Logger } from '@gatehouse/telemetry';
import type Docker from 'dockerode';
import {
  forgetTcpProxyStates,
  loadTcpProxyStates,
  recordTcpProxyState,
} from '../deployments/tcp-proxy-state.repository.ts';
import {
  type ContainerOptions,
  logTail,
  messageOf,
  networkOf,
  removeContainer,
  statusOf,
} from './app-containers.ts';
import { labelKeys, tcpProxyContainerName, tcpProxyFilter, tcpProxyRole } from './labels.ts';
import {
  observeDockerError,
  observeRunning,
  observeStopped,
  type TcpProxyObservation,
} from './tcp-proxy-health.ts';

/**
 * TCP proxies (issue 15, item 4), Coolify's architecture: one small Traefik container per public port, so each
 * port binds on its own (a port another process holds fails that proxy alone) and adding or removing one never
 * restarts the main Traefik or another database's proxy. Its static configuration is one entry point
 * (`tcpProxyEntryPoint(port)` on `:<port>`) and the file provider on proxy-config's directory, where the app's
 * file holds the TCP router for that entry point and the certificate it terminates TLS with.
 */

/** One exposed port as Postgres has it. */
export interface TcpProxySpec {
  publicPort: number;
  appId: string;
  appName: string;
  appNetwork: 'shared' | 'isolated';
}

export interface TcpProxyOptions {
  /** TCP_PROXY_IMAGE: a Traefik v3 image (its entrypoint runs `traefik` with flag arguments). */
  image: string;
  /** TCP_PROXY_DYNAMIC_DIR: volume name or host path of proxy-config's TRAEFIK_DYNAMIC_DIR. */
  dynamicSource: string;
  /** TCP_PROXY_CERTS_DIR: volume name or host path of proxy-config's TRAEFIK_CERTS_DIR. */
  certsSource: string;
  /** TCP_PROXY_CERTS_PATH: where the certificates are mounted, i.e. the paths the dynamic files name. */
  certsPath: string;
}

/** Where the dynamic directory is mounted in a proxy container (read-only). */
export const tcpProxyDynamicPath = '/etc/traefik/dynamic';

/**
 * A TCP proxy forwards bytes: Traefik's steady state is tens of MiB. Fixed, not per app: the operator's limits
 * are for the app's own container.
 */
const proxyMemoryBytes = 128 * 1024 * 1024;
const proxyPidsLimit = 128;

/**
 * What Docker is asked to create for one port. Hardened like app containers (no-new-privileges, bounded memory
 * and processes) and further: every capability dropped (NET_BIND_SERVICE kept only for a port below 1024), a
 * read-only root filesystem, both directories mounted read-only. Labels make it this stack's (`gatehouse.managed`,
 * `gatehouse.stack`), the app's, and a `tcp-proxy` with a spec hash, so reconcile recognises and replaces it.
 */
export function tcpProxyCreateOptions(
  proxy: TcpProxySpec,
  options: TcpProxyOptions,
  container: Pick<ContainerOptions, 'stack' | 'network'>,
): Docker.ContainerCreateOptions {
  const entryPoint = tcpProxyEntryPoint(proxy.publicPort);
  const portKey = `${proxy.publicPort}/tcp`;
  const hostNetwork = container.network === 'host';
  const body: Docker.ContainerCreateOptions = {
    name: tcpProxyContainerName(container.stack, proxy.publicPort),
    Image: options.image,
    Cmd: [
      `--entryPoints.${entryPoint}.address=:${proxy.publicPort}/tcp`,
      `--providers.file.directory=${tcpProxyDynamicPath}`,
      '--providers.file.watch=true',
      '--global.checkNewVersion=false',
      '--global.sendAnonymousUsage=false',
      '--log.level=INFO',
    ],
    Labels: {},
    ...(hostNetwork ? {} : { ExposedPorts: { [portKey]: {} } }),
    HostConfig: {
      // The app's network (shared, or its own when isolated): the router's service is the container's address.
      NetworkMode: networkOf({ name: proxy.appName, network: proxy.appNetwork }, container),
      ...(hostNetwork ? {} : { PortBindings: { [portKey]: [{ HostPort: String(proxy.publicPort) }] } }),
      Binds: [
        `${options.dynamicSource}:${tcpProxyDynamicPath}:ro`,
        `${options.certsSource}:${options.certsPath}:ro`,
      ],
      RestartPolicy: { Name: 'unless-stopped' },
      Init: true,
      SecurityOpt: ['no-new-privileges:true'],
      CapDrop: ['ALL'],
      ...(proxy.publicPort < 1024 ? { CapAdd: ['NET_BIND_SERVICE'] } : {}),
      ReadonlyRootfs: true,
      Memory: proxyMemoryBytes,
      MemorySwap: proxyMemoryBytes,
      PidsLimit: proxyPidsLimit,
    },
  };
  body.Labels = {
    [labelKeys.managed]: 'true',
    [labelKeys.stack]: container.stack,
    [labelKeys.app]: proxy.appName,
    [labelKeys.appId]: proxy.appId,
    [labelKeys.role]: tcpProxyRole,
    [labelKeys.tcpPort]: String(proxy.publicPort),
    // Everything above and the owning app: a port handed to another app gets a container labelled for it.
    [labelKeys.tcpSpec]: specHash({ ...body, Labels: { app: proxy.appName, appId: proxy.appId } }),
  };
  return body;
}

function specHash(body: Docker.ContainerCreateOptions): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
}

/** Every exposed port of every app, by public port. */
export async function loadTcpProxySpecs(db: Db): Promise<TcpProxySpec[]> {
  const rows = await db
    .selectFrom('app_tcp_ports')
    .innerJoin('apps', 'apps.id', 'app_tcp_ports.app_id')
    .select(['app_tcp_ports.public_port', 'apps.id', 'apps.name', 'apps.network'])
    .orderBy('app_tcp_ports.public_port')
    .execute();
  return rows.map((row) => ({
    publicPort: row.public_port,
    appId: row.id,
    appName: row.name,
    appNetwork: row.network === 'isolated' ? 'isolated' : 'shared',
  }));
}

export interface TcpProxySyncReport {
  created: number[];
  started: number[];
  removed: number[];
  /** Ports whose proxy could not be created or started (port taken, image missing); the next pass retries. */
  failed: Array<{ publicPort: number; message: string }>;
}

/**
 * While a proxy is starting or failed, a pass runs again this often, so its state in Postgres follows the
 * container without waiting for the next reconcile (a recovering proxy emits no Docker event).
 */
const defaultRecheckMs = 2_000;

export interface TcpProxies {
  /** One full pass now: Docker's TCP proxies made equal to Postgres's ports (coalesced with a running one). */
  sync(): Promise<TcpProxySyncReport | undefined>;
  /** A pass soon; calls within the debounce window share it. */
  schedule(): void;
  stop(): Promise<void>;
}

/**
 * Keeps one proxy container per exposed port: creates missing ones, starts stopped or killed ones (Docker's
 * restart policy does not restart a container someone killed), replaces one whose spec changed (another app,
 * image or directory) and removes those whose port no app declares. Each port on its own: one failure is
 * reported and retried by the next pass, the others proceed.
 */
export function createTcpProxies(deps: {
  db: Db;
  docker: Docker;
  proxy: TcpProxyOptions;
  container: ContainerOptions;
  logger: Logger;
  debounceMs?: number;
  /** See {@link defaultRecheckMs}. */
  recheckMs?: number;
}): TcpProxies {
  const logger = deps.logger.child({ component: 'tcp-proxies' });
  let running: Promise<TcpProxySyncReport | undefined> | undefined;
  let again = false;
  let stopped = false;
  let debounce: NodeJS.Timeout | undefined;
  let recheck: NodeJS.Timeout | undefined;

  async function pass(): Promise<TcpProxySyncReport> {
    const report: TcpProxySyncReport = { created: [], started: [], removed: [], failed: [] };
    const specs = await loadTcpProxySpecs(deps.db);
    const specOf = new Map(specs.map((spec) => [spec.publicPort, spec]));
    const desired = new Map(
      specs.map((spec) => [spec.publicPort, tcpProxyCreateOptions(spec, deps.proxy, deps.container)]),
    );
    const recorded = await loadTcpProxyStates(deps.db);
    /** What this pass saw of each declared port; recorded at the end (tcp_proxy_states). */
    const observed = new Map<number, TcpProxyObservation>();
    const failed = (port: number, message: string, seen: TcpProxyObservation) => {
      report.failed.push({ publicPort: port, message });
      observed.set(port, seen);
    };
    const existing = await deps.docker.listContainers({
      all: true,
      filters: tcpProxyFilter(deps.container.stack),
    });
    const kept = new Set<number>();
    for (const container of existing) {
      const port = Number(container.Labels[labelKeys.tcpPort]);
      const want = desired.get(port);
      if (
        !want ||
        want.Labels?.[labelKeys.tcpSpec] !== container.Labels[labelKeys.tcpSpec] ||
        kept.has(port)
      ) {
        logger.info({ container_id: container.Id, public_port: port }, 'removing tcp proxy');
        await removeContainer(deps.docker, container.Id);
        report.removed.push(port);
        continue;
      }
      kept.add(port);
      if (container.State === 'running') {
        // Proven running already: no inspect. Otherwise it must stay up a while before it counts (a proxy that
        // cannot bind its port is up for milliseconds at each restart).
        if (recorded.get(port)?.status === 'running') observed.set(port, { status: 'running', error: null });
        else {
          const info = await inspectIfExists(container.Id);
          if (info) observed.set(port, observeRunning(new Date(info.State.StartedAt)));
        }
        continue;
      }
      const info = await inspectIfExists(container.Id);
      // Removed since the list was read (by an operator, or a replica's pass): the next pass creates it again.
      if (!info) continue;
      const stoppedSeen = observeStopped(port, {
        restarting: info.State.Restarting,
        exitCode: info.State.ExitCode,
        // Docker's own error (a published port it could not bind) first, then what the process wrote.
        logs: `${info.State.Error ?? ''}\n${await logTail(deps.docker, container.Id)}`,
      });
      if (stoppedSeen) observed.set(port, stoppedSeen);
      // Docker's restart policy brings it back after a backoff; starting it now would be refused (304).
      if (info.State.Restarting) continue;
      try {
        await deps.docker.getContainer(container.Id).start();
        report.started.push(port);
        if (!stoppedSeen) observed.set(port, { status: 'starting', error: null });
        logger.info(
          { container_id: container.Id, public_port: port, state: container.State },
          'tcp proxy started',
        );
      } catch (error) {
        if (statusOf(error) === 304) continue;
        failed(port, messageOf(error), observeDockerError(port, messageOf(error)));
        logger.warn(
          { public_port: port, err: messageOf(error) },
          'tcp proxy did not start, next pass retries',
        );
      }
    }
    for (const [port, body] of desired) {
      if (kept.has(port)) continue;
      try {
        const created = await createOrFind(body);
        await deps.docker
          .getContainer(created)
          .start()
          .catch((error: unknown) => {
            if (statusOf(error) !== 304) throw error;
          });
        report.created.push(port);
        observed.set(port, { status: 'starting', error: null });
        logger.info({ container_id: created, public_port: port }, 'tcp proxy created');
      } catch (error) {
        failed(port, messageOf(error), observeDockerError(port, messageOf(error)));
        logger.warn(
          { public_port: port, err: messageOf(error) },
          'tcp proxy could not be created, next pass retries',
        );
      }
    }
    await recordStates(specOf, observed, recorded);
    return report;
  }

  /**
   * Writes what the pass saw (a failure first seen emits `deployments.tcp-proxy-failed`), drops the states of
   * ports no app declares, and looks again soon while a proxy is starting or failed.
   */
  async function recordStates(
    specOf: ReadonlyMap<number, TcpProxySpec>,
    observed: ReadonlyMap<number, TcpProxyObservation>,
    recorded: Awaited<ReturnType<typeof loadTcpProxyStates>>,
  ): Promise<void> {
    for (const [port, seen] of observed) {
      const spec = specOf.get(port)!;
      if (seen.status === 'failed' && recorded.get(port)?.status !== 'failed') {
        logger.warn(
          { public_port: port, app: spec.appName, reason: seen.error?.reason, err: seen.error?.message },
          'tcp proxy failing',
        );
      }
      await recordTcpProxyState(deps.db, spec, seen, recorded.get(port));
    }
    if ([...recorded.keys()].some((port) => !specOf.has(port))) {
      await forgetTcpProxyStates(deps.db, [...specOf.keys()]);
    }
    const unsettled = [...specOf.keys()].some((port) => observed.get(port)?.status !== 'running');
    clearTimeout(recheck);
    if (unsettled && !stopped) {
      recheck = setTimeout(() => void sync(), deps.recheckMs ?? defaultRecheckMs);
      recheck.unref();
    }
  }

  async function inspectIfExists(id: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await deps.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Creates the proxy; a name already taken (a replica's or an earlier pass's) is removed and created again. */
  async function createOrFind(body: Docker.ContainerCreateOptions): Promise<string> {
    try {
      return (await deps.docker.createContainer(body)).id;
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const name = body.name!;
      const other = await deps.docker.getContainer(name).inspect();
      if (other.Config.Labels[labelKeys.tcpSpec] === body.Labels?.[labelKeys.tcpSpec]) return other.Id;
      // A container of another stack or spec squats the name: only our own stack's may be replaced.
      if (other.Config.Labels[labelKeys.stack] !== deps.container.stack) {
        throw new Error(`container name ${name} is taken by a container this stack does not own`);
      }
      await removeContainer(deps.docker, other.Id);
      return (await deps.docker.createContainer(body)).id;
    }
  }

  function sync(): Promise<TcpProxySyncReport | undefined> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      // What every pass of this run did: a caller that joined a running pass sees its effects too.
      let report: TcpProxySyncReport | undefined;
      do {
        again = false;
        try {
          const next = await pass();
          report = {
            created: [...(report?.created ?? []), ...next.created],
            started: [...(report?.started ?? []), ...next.started],
            removed: [...(report?.removed ?? []), ...next.removed],
            failed: next.failed,
          };
        } catch (error) {
          logger.warn({ err: error }, 'tcp proxy sync failed, will retry');
          report = undefined;
        }
      } while (again && !stopped);
      return report;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    sync,
    schedule() {
      if (stopped) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void sync(), deps.debounceMs ?? 500);
    },
    async stop() {
      stopped = true;
      clearTimeout(debounce);
      clearTimeout(recheck);
      await running;
    },
  };
}
