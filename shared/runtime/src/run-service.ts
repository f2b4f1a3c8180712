import {
  ConfigError,
  type ConfigIssue,
  type Env,
  hostPort,
  loadConfig,
  serviceEnvShape,
} from '@gatehouse/config';
import { assertSchemaCurrent, createDb, type Db, ensureDatabaseExists, migrateToLatest } from '@gatehouse/db';
import { allStreams } from '@gatehouse/events';
import {
  connectNats,
  ensureStreams,
  NatsAuthError,
  type NatsConnection,
  type OutboxRelay,
  startOutboxRelay,
} from '@gatehouse/messaging';
import { createLogger, type Logger, recordFinishedSpan, startTelemetry } from '@gatehouse/telemetry';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { sql } from 'kysely';
import { collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { closeServer, type ReadinessCheck, startHealthServer } from './health-server.ts';
import { retryUntilReady } from './retry.ts';

/** Everything a service's `start` gets from the runtime, already connected. */
export interface ServiceContext<Config> {
  /** The service's own variables. */
  config: Config;
  /** Variables every service reads (database, NATS, logging, health port). */
  runtime: RuntimeConfig;
  logger: Logger;
  db: Db;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Adds a `/readyz` check beside Postgres and NATS. */
  addReadinessCheck(name: string, check: ReadinessCheck): void;
}

/** What `start` hands back: how to stop what it started (consumers, servers), newest first. */
export interface StartedService {
  stop(): Promise<void>;
}

/** Variables the runtime itself reads, for every service: `serviceEnvShape` plus these. */
export function runtimeConfigSchema(defaultHealthPort: number) {
  return z.object({
    ...serviceEnvShape,
    /** host:port of /healthz, /readyz and /metrics. */
    HEALTH_LISTEN: hostPort.prefault(`127.0.0.1:${defaultHealthPort}`),
    /**
     * Whether the service migrates the schema at start (under an advisory lock, as every replica may). `false`
     * when it connects with a role of its own that may not change the schema (compose: the one-shot `migrate`
     * service does it as the owner); it then waits until the schema has every migration it was built with.
     */
    DB_MIGRATE: z
      .enum(['true', 'false'], { message: 'expected true or false' })
      .default('true')
      .transform((value) => value === 'true'),
    /** Name of this replica in logs and NATS client names (defaults to the host name). */
    INSTANCE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, dot, dash and underscore only')
      .optional(),
  });
}
export type RuntimeConfig = z.infer<ReturnType<typeof runtimeConfigSchema>>;

export interface ServiceDefinition<Shape extends z.ZodRawShape> {
  name: string;
  /** The service's own variables, each with a comment; the runtime reads its own beside them. */
  configShape: Shape;
  /** Default health port, so several services run side by side on one machine. */
  defaultHealthPort: number;
  start(context: ServiceContext<z.infer<z.ZodObject<Shape>>>): Promise<StartedService | undefined>;
  env?: Env;
}

const shutdownGraceMs = 25_000;

/**
 * The composition root every service shares: config → logger/telemetry → Postgres (created,
 * migrated) → NATS (streams) → outbox relay → health server → the service → graceful drain on
 * SIGTERM/SIGINT. A bad configuration exits with code 78 (EX_CONFIG) and a message naming the
 * variable; unreachable Postgres or NATS are waited for, not fatal.
 */
export async function runService<Shape extends z.ZodRawShape>(
  definition: ServiceDefinition<Shape>,
): Promise<void> {
  const env = definition.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const runtime = parseOrCollect(
    () => loadConfig(runtimeConfigSchema(definition.defaultHealthPort), env),
    issues,
  );
  const service = parseOrCollect(() => loadConfig(z.object(definition.configShape), env), issues);
  if (!runtime || !service) {
    process.stderr.write(`${definition.name}: ${new ConfigError(issues).message}\n`);
    process.exit(78);
  }
  const config = runtime;

  const logger = createLogger({ service: definition.name, level: config.LOG_LEVEL });
  const telemetry = startTelemetry({
    serviceName: definition.name,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  collectDefaultMetrics();
  const stops: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  const shutdown = new AbortController();
  let shuttingDown = false;

  async function stopAll(reason: string, exitCode: number): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    shutdown.abort();
    logger.info({ reason }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ grace_ms: shutdownGraceMs }, 'shutdown took too long, exiting');
      process.exit(exitCode || 1);
    }, shutdownGraceMs);
    force.unref();
    for (const { name, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.warn({ err: error, component: name }, 'component did not stop cleanly');
      }
    }
    await telemetry.shutdown().catch(() => {});
    logger.info('stopped');
    process.exit(exitCode);
  }
  process.once('SIGTERM', () => void stopAll('SIGTERM', 0));
  process.once('SIGINT', () => void stopAll('SIGINT', 0));

  try {
    const checks: Record<string, ReadinessCheck> = {};
    const instance = config.INSTANCE_NAME ?? (process.env.HOSTNAME || `${process.pid}`);
    const databaseUrl = withPassword(config.DATABASE_URL, config.DATABASE_PASSWORD);

    if (config.DB_MIGRATE) {
      await retryUntilReady('postgres', () => ensureDatabaseExists(databaseUrl), logger, {
        signal: shutdown.signal,
      });
    }
    const db = createDb({
      connectionString: databaseUrl,
      onIdleError: (error) => logger.warn({ err: error.message }, 'postgres connection lost'),
      // A span per query costs ~25 µs of CPU; only worth it when spans are exported.
      ...(config.OTEL_EXPORTER_OTLP_ENDPOINT
        ? {
            onQuery: (event) =>
              recordFinishedSpan(
                'db query',
                event.queryDurationMillis,
                { 'db.system.name': 'postgresql', 'db.query.text': event.query.sql.slice(0, 500) },
                event.level === 'error' ? event.error : undefined,
              ),
          }
        : {}),
    });
    stops.push({ name: 'postgres', stop: () => db.destroy() });
    if (config.DB_MIGRATE) {
      const migrated = await retryUntilReady('postgres', () => migrateToLatest(db), logger, {
        signal: shutdown.signal,
      });
      if (migrated.applied.length > 0) logger.info({ migrations: migrated.applied }, 'database migrated');
    } else {
      await retryUntilReady('postgres schema', () => assertSchemaCurrent(db), logger, {
        signal: shutdown.signal,
      });
    }
    checks.postgres = async () => {
      await sql`select 1`.execute(db);
    };

    let nc: Awaited<ReturnType<typeof connectNats>>;
    try {
      nc = await connectNats({
        servers: config.NATS_URL,
        name: `${definition.name}-${instance}`,
        logger,
        user: config.NATS_USER,
        password: config.NATS_PASSWORD,
      });
    } catch (error) {
      if (!(error instanceof NatsAuthError)) throw error;
      // Wrong credentials do not get better by waiting: say so and stop, like any configuration error.
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      logger.fatal({ err: error }, 'nats refused the credentials');
      await stopAll('nats credentials refused', 78);
      return;
    }
    stops.push({ name: 'nats', stop: () => nc.drain() });
    const jsm = await jetstreamManager(nc);
    await retryUntilReady('jetstream', () => ensureStreams(jsm, allStreams()), logger, {
      signal: shutdown.signal,
    });
    const js = jetstream(nc);
    checks.nats = async () => {
      if (nc.isClosed()) throw new Error('connection closed');
      await nc.rtt();
    };

    // Every service writes events, so every one runs a relay; an advisory lock lets one publish at a
    // time, and the others take over the moment it stops.
    const relay: OutboxRelay = startOutboxRelay({
      db,
      js,
      logger,
      listenConnectionString: databaseUrl,
      // With per-service NATS users a service may publish only its own events: it relays only its own rows.
      source: config.NATS_USER ? definition.name : undefined,
    });
    stops.push({ name: 'outbox relay', stop: () => relay.stop() });

    const health = await startHealthServer({ listen: config.HEALTH_LISTEN, logger, checks });
    stops.push({ name: 'health server', stop: () => closeServer(health) });

    const started = await definition.start({
      config: service,
      runtime,
      logger,
      db,
      nc,
      js,
      jsm,
      addReadinessCheck: (name, check) => {
        checks[name] = check;
      },
    });
    if (started) stops.push({ name: definition.name, stop: () => started.stop() });
    logger.info({ instance }, 'service started');
  } catch (error) {
    if (shuttingDown) return;
    logger.fatal({ err: error }, 'service failed to start');
    await stopAll('start failed', 1);
  }
}

/** DATABASE_URL with DATABASE_PASSWORD in place of its own password, when one is given. */
function withPassword(databaseUrl: string, password: string | undefined): string {
  if (password === undefined) return databaseUrl;
  const url = new URL(databaseUrl);
  url.password = encodeURIComponent(password);
  return url.toString();
}

function parseOrCollect<T>(parse: () => T, issues: ConfigIssue[]): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
    return undefined;
  }
}
