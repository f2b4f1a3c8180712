import type { TestDatabase, TestNatsServer } from '@gatehouse/testing';
import { freePort, waitFor } from '@gatehouse/testing';
import { type ServiceProcess, startServiceProcess } from '../../../test/service-process.ts';

export interface DeployerProcess extends ServiceProcess {
  healthUrl: string;
}

/**
 * Starts a real deployer process against the test's database and NATS, on the host network with
 * the test's own `GATEHOUSE_STACK`, so it never touches containers of other test runs.
 */
export async function startDeployer(options: {
  database: TestDatabase;
  nats: TestNatsServer;
  stack: string;
  env?: Record<string, string>;
}): Promise<DeployerProcess> {
  const healthPort = await freePort();
  const child = startServiceProcess('deployer', {
    DATABASE_URL: options.database.url,
    NATS_URL: options.nats.url,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
    DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
    DOCKER_NETWORK: 'host',
    GATEHOUSE_STACK: options.stack,
    // No registry here: a missing image must fail at once, not wait for a pull.
    IMAGE_PULL: 'never',
    DEPLOY_READY_TIMEOUT: '15s',
    ...options.env,
  });
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  await waitFor(
    'deployer ready',
    async () => (await fetch(`${healthUrl}/readyz`).catch(() => undefined))?.status === 200,
    { timeoutMs: 30_000, intervalMs: 100 },
  ).catch((error) => {
    throw new Error(`deployer did not become ready:\n${child.output()}`, { cause: error });
  });
  return { ...child, healthUrl };
}
