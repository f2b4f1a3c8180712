import { createSecretBox } from '@gatehouse/pki';
import { runService } from '@gatehouse/runtime';
import { deployerConfigShape } from './config.ts';
import { createAppDeployer } from './deployments/app-deployer.ts';
import { startAppsConsumer } from './deployments/apps-consumer.ts';
import { createTcpProxies } from './docker/tcp-proxies.ts';
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
    const container = {
      stack: config.GATEHOUSE_STACK,
      network: config.DOCKER_NETWORK,
      imagePull: config.IMAGE_PULL,
      pullTimeoutMs: config.IMAGE_PULL_TIMEOUT,
      traefikContainer: config.TRAEFIK_CONTAINER,
    };
    const tcpProxies = createTcpProxies({
      db,
      docker,
      logger,
      container,
      proxy: {
        image: config.TCP_PROXY_IMAGE,
        dynamicSource: config.TCP_PROXY_DYNAMIC_DIR,
        certsSource: config.TCP_PROXY_CERTS_DIR,
        certsPath: config.TCP_PROXY_CERTS_PATH,
      },
    });
    const deployer = createAppDeployer({
      docker,
      container,
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
      tcpProxies,
    });
    // Watch first, so a container dying during the start-up pass is not missed.
    const watch = watchDockerEvents(docker, config.GATEHOUSE_STACK, logger, () => reconciler.schedule());
    void reconciler.reconcile();
    const consumer = await startAppsConsumer({
      concurrency: config.DEPLOY_CONCURRENCY,
      nc,
      js,
      jsm,
      db,
      logger,
      deployer,
      box,
      // An app's TCP ports changed with it (or it is gone): bring the proxies in line soon.
      onAppChanged: () => tcpProxies.schedule(),
    });
    return {
      async stop() {
        watch.stop();
        await consumer.stop();
        await reconciler.stop();
        await tcpProxies.stop();
      },
    };
  },
});
