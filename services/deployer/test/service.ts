import { randomBytes } from 'node:crypto';
import { createSecretBox } from '@gatehouse/pki';
import { type ReadyServiceProcess, startReadyService } from '@gatehouse/service-harness';
import type { TestDatabase, TestNatsServer } from '@gatehouse/testing';

export type DeployerProcess = ReadyServiceProcess;

/** The master key the deployer under test opens apps' env with; `box` seals as the api does. */
export const masterKey = randomBytes(32).toString('base64');
export const box = createSecretBox(Buffer.from(masterKey, 'base64'));

/**
 * Starts a real deployer process against the test's database and NATS, on the host network with
 * the test's own `GATEHOUSE_STACK`, so it never touches containers of other test runs.
 */
export function startDeployer(options: {
  database: TestDatabase;
  nats: TestNatsServer;
  stack: string;
  env?: Record<string, string>;
}): Promise<DeployerProcess> {
  return startReadyService('deployer', {
    DATABASE_URL: options.database.url,
    NATS_URL: options.nats.url,
    DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
    DOCKER_NETWORK: 'host',
    GATEHOUSE_STACK: options.stack,
    GATEHOUSE_MASTER_KEY: masterKey,
    // No registry here: a missing image must fail at once, not wait for a pull.
    IMAGE_PULL: 'never',
    DEPLOY_READY_TIMEOUT: '15s',
    ...options.env,
  });
}
