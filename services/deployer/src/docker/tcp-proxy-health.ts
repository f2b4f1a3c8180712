import type { TcpProxyFailureReason, TcpProxyStatus } from '@gatehouse/db';

/**
 * How a TCP proxy is doing, as the deployer sees it in one pass. Pure rules (tcp-proxy-health.test.ts); the
 * Docker calls that gather the facts are in tcp-proxies.ts.
 */
export interface TcpProxyObservation {
  status: TcpProxyStatus;
  error: { reason: TcpProxyFailureReason; message: string } | null;
}

/**
 * How long a proxy must have been up before it counts as `running`: a proxy that cannot bind its port exits
 * within milliseconds of each start, so one seen up for a moment has proven nothing yet.
 */
export const tcpProxySettleMs = 3_000;

/** What Docker (a published port) and Traefik or any listener (host networking) say when the port is taken. */
const portTakenPattern = /address already in use|port is already allocated/i;

/**
 * Exit codes of a container stopped or killed from outside (SIGTERM 143, SIGKILL 137) or ended cleanly: the
 * deployer starts it again, but it is not a failure of the proxy.
 */
const nonFailureExitCodes = new Set([0, 137, 143]);

/** A proxy seen running since `startedAt`: `running` once it has been up {@link tcpProxySettleMs}. */
export function observeRunning(startedAt: Date, now = new Date()): TcpProxyObservation {
  return {
    status: now.getTime() - startedAt.getTime() >= tcpProxySettleMs ? 'running' : 'starting',
    error: null,
  };
}

/**
 * A proxy that is not running: Docker restarting it (its process exited with an error), or exited. Undefined
 * when it ended without failing (stopped, killed, exit 0): the deployer just starts it again.
 */
export function observeStopped(
  publicPort: number,
  container: { restarting: boolean; exitCode: number; logs: string },
): TcpProxyObservation | undefined {
  if (!container.restarting && nonFailureExitCodes.has(container.exitCode)) return undefined;
  if (portTakenPattern.test(container.logs)) return portInUse(publicPort);
  const last = lastLine(container.logs);
  return {
    status: 'failed',
    error: {
      reason: 'proxy-failed',
      message: `the TCP proxy for port ${publicPort} exited with code ${container.exitCode}${last ? `: ${last}` : ''}; it is retried`,
    },
  };
}

/** Docker refused to create or start the proxy (a published port taken, the image missing, …). */
export function observeDockerError(publicPort: number, message: string): TcpProxyObservation {
  if (portTakenPattern.test(message)) return portInUse(publicPort);
  return {
    status: 'failed',
    error: {
      reason: 'proxy-failed',
      message: `the TCP proxy for port ${publicPort} could not be started: ${message}; it is retried`,
    },
  };
}

function portInUse(publicPort: number): TcpProxyObservation {
  return {
    status: 'failed',
    error: {
      reason: 'port-in-use',
      message: `port ${publicPort} is in use on the host by another process; the proxy is retried and serves the port once it is free`,
    },
  };
}

function lastLine(logs: string): string {
  const lines = logs
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return (lines.at(-1) ?? '').slice(0, 300);
}
