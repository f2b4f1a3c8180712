import { describe, expect, it } from 'vitest';
import { observeDockerError, observeRunning, observeStopped, tcpProxySettleMs } from './tcp-proxy-health.ts';

describe('tcp proxy health', () => {
  it('tcp proxy health - running counts only after the settle time', () => {
    const now = new Date('2026-12-04T12:00:00Z');
    expect(observeRunning(new Date(now.getTime() - 100), now).status).toBe('starting');
    expect(observeRunning(new Date(now.getTime() - tcpProxySettleMs), now)).toEqual({
      status: 'running',
      error: null,
    });
  });

  it('tcp proxy health - a bind failure in the logs is the port in use on the host', () => {
    expect(
      observeStopped(5433, {
        restarting: true,
        exitCode: 1,
        logs: 'level=error msg="listen tcp :5433: bind: address already in use"\n',
      }),
    ).toEqual({
      status: 'failed',
      error: {
        reason: 'port-in-use',
        message:
          'port 5433 is in use on the host by another process; the proxy is retried and serves the port once it is free',
      },
    });
    expect(
      observeDockerError(6380, 'Bind for 0.0.0.0:6380 failed: port is already allocated').error?.reason,
    ).toBe('port-in-use');
  });

  it('tcp proxy health - other exits name the code and the last log line; a kill or a stop is no failure', () => {
    expect(
      observeStopped(5433, { restarting: false, exitCode: 2, logs: 'first\nmissing entry point\n\n' }),
    ).toEqual({
      status: 'failed',
      error: {
        reason: 'proxy-failed',
        message: 'the TCP proxy for port 5433 exited with code 2: missing entry point; it is retried',
      },
    });
    expect(observeStopped(5433, { restarting: false, exitCode: 137, logs: '' })).toBeUndefined();
    expect(observeStopped(5433, { restarting: false, exitCode: 0, logs: '' })).toBeUndefined();
    expect(observeDockerError(5433, 'No such image: traefik:v3.5.3').error).toEqual({
      reason: 'proxy-failed',
      message:
        'the TCP proxy for port 5433 could not be started: No such image: traefik:v3.5.3; it is retried',
    });
  });
});
