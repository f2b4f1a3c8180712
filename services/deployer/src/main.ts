import { createSecretBox } from '@gatehouse/pki';
import { runService } from '@gatehouse/runtime';
import { deployerConfigShape } from './config.ts';
import { createAppDeployer } from './deployments/app-deployer.ts';
import { startAppsConsumer } from './deployments/apps-consumer.ts';
import { createDockerClient } from './docker-client.ts';
import { watchDockerEvents } from './reconcile/docker-events.ts';
import { createReconciler } from './reconcile/reconciler.ts';

await runService({
  name: 'deployer',
  configShape: deployerConfigShape,
  defaultHealthPort: 9102,
  async start({ config, db, nc, js, jsm, logger, addReadinessCheck }) {
    const box = createSecretBox(config.GATEHOUSE_MASTER_KEY);
    const docker = createDockerClient(config.DOCKER_HOST);
    addReadinessCheck('docker', async () => {
      await docker.ping();
    });
    const deployer = createAppDeployer({
      docker,
      container: {
        stack: config.GATEHOUSE_STACK,
        network: config.DOCKER_NETWORK,
        imagePull: config.IMAGE_PULL,
        pullTimeoutMs: config.IMAGE_PULL_TIMEOUT,
        traefikContainer: config.TRAEFIK_CONTAINER,
      },
      upstreamHost: config.UPSTREAM_HOST,
      readyTimeoutMs: config.DEPLOY_READY_TIMEOUT,
    });
    const reconciler = createReconciler({
      db,
      docker,
      deployer,
      box,
      logger,
      intervalMs: config.RECONCILE_INTERVAL,
      stack: config.GATEHOUSE_STACK,
    });
    // Watch first, so a container dying during the start-up pass is not missed.
    const watch = watchDockerEvents(docker, config.GATEHOUSE_STACK, logger, () => reconciler.schedule());
    void reconciler.reconcile();
    const consumer = await startAppsConsumer({ nc, js, jsm, db, logger, deployer, box });
    return {
      async stop() {
        watch.stop();
        await consumer.stop();
        await reconciler.stop();
      },
    };
  },
});
