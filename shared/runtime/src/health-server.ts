import type { Server } from 'node:http';
import type { HostPort } from '@gatehouse/config';
import type { Logger } from '@gatehouse/telemetry';
import express, { type Express } from 'express';
import { register } from 'prom-client';
import { traceRequests } from './http-tracing.ts';
import { renderMetricsSources } from './metrics-exposition.ts';

/** A dependency `/readyz` checks; resolves when healthy, throws (with a reason) when not. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthServerOptions {
  listen: HostPort;
  logger: Logger;
  checks: Record<string, ReadinessCheck>;
  /** How long one check may take before it counts as failed. */
  checkTimeoutMs?: number;
}

/**
 * `/healthz` (the process is alive), `/readyz` (every dependency answers; 503 with the failing ones
 * otherwise) and `/metrics` (Prometheus), on every service.
 */
export function createHealthApp({
  checks,
  checkTimeoutMs = 2_000,
}: Omit<HealthServerOptions, 'listen'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(traceRequests());
  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/readyz', async (_request, response) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), checkTimeoutMs, `${name} did not answer within ${checkTimeoutMs} ms`);
          return [name, { ok: true }] as const;
        } catch (error) {
          return [
            name,
            { ok: false, error: error instanceof Error ? error.message : String(error) },
          ] as const;
        }
      }),
    );
    const ready = results.every(([, result]) => result.ok);
    response
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) });
  });
  app.get('/metrics', async (_request, response) => {
    const [registered, sources] = await Promise.all([register.metrics(), renderMetricsSources()]);
    response.type(register.contentType).send(`${registered}\n${sources}`);
  });
  return app;
}

export async function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const app = createHealthApp(options);
  return listen(app, options.listen, options.logger, 'health server listening');
}

/**
 * Starts an express app (or a node:http server not yet listening) on host:port; rejects with a clear message when
 * the port is taken.
 */
export function listen(
  app: Express | Server,
  address: HostPort,
  logger: Logger,
  message: string,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(address.port, address.host);
    server.once('listening', () => {
      logger.info({ host: address.host, port: address.port }, message);
      resolve(server);
    });
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`${address.host}:${address.port} is already in use; choose another port`, {
              cause: error,
            })
          : error,
      );
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Stops accepting connections and resolves once open requests have finished. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
