import {
  appsCreated,
  appsDeleted,
  appsUpdated,
  certsFallbackActivated,
  certsFallbackChanged,
  certsIssued,
  certsRemoved,
  certsUploaded,
  createEvent,
  deploymentsFailed,
  deploymentsRemoved,
  deploymentsStarted,
  routesApplied,
} from '@gatehouse/events';
import { consumerName, enqueue, on, startConsumer } from '@gatehouse/messaging';
import { createSecretBox } from '@gatehouse/pki';
import { runService } from '@gatehouse/runtime';
import { proxyConfigShape } from './config.ts';
import { ensureWritableDirectory } from './directory-check.ts';
import { createCoalescer, type PendingWork } from './sync/coalescer.ts';
import { createDirectoryWriter } from './sync/directory-writer.ts';
import { findAppIdsByCertificates } from './sync/load-app.ts';
import { isOnDemandCertificate } from './sync/load-on-demand.ts';
import { createProxyDirectory } from './sync/proxy-directory.ts';

/**
 * Least time between two writes of the directory. Traefik applies at most one configuration per
 * `providersThrottleDuration` (2 s by default) whatever we write, so this bounds only our own work; it was
 * 1 s, and a certificate issued just after the app's deployment waited out most of that second (the largest
 * hop of `bench:e2e`, see README "Performance").
 */
const writeIntervalMs = 100;

/** Names of changed files logged per burst; a full rebuild can change tens of thousands. */
const LOGGED_FILE_NAMES = 20;

await runService({
  name: 'proxy-config',
  configShape: proxyConfigShape,
  defaultHealthPort: 9105,
  async start({ config, db, nc, js, jsm, logger, addReadinessCheck }) {
    await ensureWritableDirectory(config.TRAEFIK_DYNAMIC_DIR);
    await ensureWritableDirectory(config.TRAEFIK_CERTS_DIR);
    addReadinessCheck('traefik-dynamic-dir', () => ensureWritableDirectory(config.TRAEFIK_DYNAMIC_DIR));
    addReadinessCheck('traefik-certs-dir', () => ensureWritableDirectory(config.TRAEFIK_CERTS_DIR));
    const box = createSecretBox(config.GATEHOUSE_MASTER_KEY);
    const writer = createDirectoryWriter({
      dynamicDir: config.TRAEFIK_DYNAMIC_DIR,
      certsDir: config.TRAEFIK_CERTS_DIR,
      certsDirForTraefik: config.TRAEFIK_CERTS_DIR_IN_TRAEFIK,
      http01ResponderUrl: config.HTTP01_UPSTREAM_URL,
      onDemandTerminator: config.ON_DEMAND_TLS_UPSTREAM,
      onDemandUpstreamUrl: config.ON_DEMAND_UPSTREAM_URL,
      box,
    });
    const directory = createProxyDirectory({ db, box, writer });

    async function apply(work: PendingWork): Promise<void> {
      try {
        const result = work.full ? await directory.syncAll() : await directory.syncApps(work.appIds);
        for (const failure of result.failures) {
          // The app's previous file stays; the next change or full pass tries again.
          logger.error(
            { err: failure.error, app_id: failure.appId, app: failure.slug },
            'app file not written; previous file kept',
          );
        }
        if (result.changed.length === 0) return;
        logger.info(
          {
            full: work.full,
            files_changed: result.changed.length,
            files: result.changed.slice(0, LOGGED_FILE_NAMES),
          },
          'traefik files updated',
        );
        await db.transaction().execute((trx) =>
          enqueue(
            trx,
            createEvent(routesApplied, {
              source: 'proxy-config',
              subject: config.EDGE_NODE,
              data: { node: config.EDGE_NODE, changedFiles: result.changed },
            }),
          ),
        );
      } catch (error) {
        // Files already written are valid on their own; the apps of this burst are redone by a full pass.
        logger.error({ err: error }, 'traefik sync failed; a full pass follows');
        retryTimer = setTimeout(() => coalescer.scheduleFull(), config.PROXY_FULL_SYNC_RETRY);
      }
    }
    let retryTimer: NodeJS.Timeout | undefined;
    const coalescer = createCoalescer(apply, writeIntervalMs);
    // Rebuild the whole directory from Postgres at start (a lost or stale volume heals), then periodically
    // (orphans, lost files, settings changed without an event such as the operator's fallback certificate).
    coalescer.scheduleFull();
    const fullSyncTimer = setInterval(() => coalescer.scheduleFull(), config.PROXY_FULL_SYNC_INTERVAL);

    const forApp = async (event: { data: { appId: string } }) => coalescer.scheduleApps([event.data.appId]);
    const forCertificate = async (event: { data: { certificateId: string } }) => {
      coalescer.scheduleApps(await findAppIdsByCertificates(db, [event.data.certificateId]));
      // An on-demand host's certificate (first issuance or renewal): its router lives in the on-demand file.
      if (config.ON_DEMAND_UPSTREAM_URL && (await isOnDemandCertificate(db, event.data.certificateId)))
        coalescer.scheduleFull();
    };

    // Every edge node must apply every change: one durable consumer per node and domain.
    // Handlers only read Postgres and ask the coalescer for a write: a burst (100 apps deployed at once) is
    // applied in a few transactions instead of one per event.
    const common = { nc, js, jsm, db, logger, batchSize: 32 };
    const consumers = await Promise.all([
      startConsumer({
        ...common,
        name: consumerName('proxy-config', 'apps', config.EDGE_NODE),
        subscriptions: [on(appsCreated, forApp), on(appsUpdated, forApp), on(appsDeleted, forApp)],
      }),
      startConsumer({
        ...common,
        name: consumerName('proxy-config', 'deployments', config.EDGE_NODE),
        subscriptions: [
          on(deploymentsStarted, forApp),
          on(deploymentsFailed, forApp),
          on(deploymentsRemoved, forApp),
        ],
      }),
      startConsumer({
        ...common,
        name: consumerName('proxy-config', 'certs', config.EDGE_NODE),
        subscriptions: [
          on(certsIssued, forCertificate),
          on(certsFallbackActivated, forCertificate),
          // A custom certificate may cover names of any app (a wildcard), linked to it or not: uploads are
          // rare, so a full pass (which rewrites only the files that change) finds them all.
          on(certsUploaded, async () => coalescer.scheduleFull()),
          // A deleted upload may have served any app: its names fall to their next choice.
          on(certsRemoved, async () => coalescer.scheduleFull()),
          // The operator's fallback wildcard changed: any name on a fallback may be served differently now.
          on(certsFallbackChanged, async () => coalescer.scheduleFull()),
        ],
      }),
    ]);
    return {
      async stop() {
        clearInterval(fullSyncTimer);
        clearTimeout(retryTimer);
        await Promise.all(consumers.map((consumer) => consumer.stop()));
        await coalescer.stop();
      },
    };
  },
});
