import {
  appsCreated,
  appsDeleted,
  appsUpdated,
  certsIssued,
  createEvent,
  deploymentsStarted,
  routesApplied,
} from '@gatehouse/events';
import { consumerName, enqueue, on, startConsumer } from '@gatehouse/messaging';
import { createSecretBox } from '@gatehouse/pki';
import { runService } from '@gatehouse/runtime';
import { proxyConfigShape } from './config.ts';
import { ensureWritableDirectory } from './directory-check.ts';
import { createDirectoryWriter } from './sync/directory-writer.ts';
import { createCoalescer, syncDirectory } from './sync/sync-directory.ts';

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
    });
    const coalescer = createCoalescer(async () => {
      try {
        const changed = await syncDirectory(db, box, writer);
        if (changed.length === 0) return;
        logger.info({ files: changed }, 'traefik files updated');
        await db.transaction().execute((trx) =>
          enqueue(
            trx,
            createEvent(routesApplied, {
              source: 'proxy-config',
              subject: config.EDGE_NODE,
              data: { node: config.EDGE_NODE, changedFiles: changed },
            }),
          ),
        );
      } catch (error) {
        logger.error({ err: error }, 'traefik sync failed; files left as they were');
      }
    }, 1_000);
    // Rebuild the whole directory from Postgres at start: a lost or stale volume heals.
    coalescer.schedule();

    // Every edge node must apply every change: one durable consumer per node and domain.
    const markDirty = async () => coalescer.schedule();
    const common = { nc, js, jsm, db, logger };
    const consumers = await Promise.all([
      startConsumer({
        ...common,
        name: consumerName('proxy-config', 'apps', config.EDGE_NODE),
        subscriptions: [on(appsCreated, markDirty), on(appsUpdated, markDirty), on(appsDeleted, markDirty)],
      }),
      startConsumer({
        ...common,
        name: consumerName('proxy-config', 'deployments', config.EDGE_NODE),
        subscriptions: [on(deploymentsStarted, markDirty)],
      }),
      startConsumer({
        ...common,
        name: consumerName('proxy-config', 'certs', config.EDGE_NODE),
        subscriptions: [on(certsIssued, markDirty)],
      }),
    ]);
    return {
      async stop() {
        await Promise.all(consumers.map((consumer) => consumer.stop()));
        await coalescer.stop();
      },
    };
  },
});
