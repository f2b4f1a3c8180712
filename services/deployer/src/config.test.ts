import { loadConfig } from '@gatehouse/config';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deployerConfigShape } from './config.ts';

const schema = z.object(deployerConfigShape);
const key = { GATEHOUSE_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') };

describe('deployer config', () => {
  it('deployer config - defaults suit production: a bridge network, pulls allowed, 30 s readiness, 60 s reconcile', () => {
    const config = loadConfig(schema, key);
    expect(config).toMatchObject({
      DOCKER_NETWORK: 'gatehouse-apps',
      GATEHOUSE_STACK: 'gatehouse',
      IMAGE_PULL: 'missing',
      DEPLOY_READY_TIMEOUT: 30_000,
      RECONCILE_INTERVAL: 60_000,
      DEPLOY_CONCURRENCY: 8,
    });
    expect(config.UPSTREAM_HOST).toBeUndefined();
  });

  it('deployer config - durations take ms, s and m; a bad value names the variable', () => {
    expect(
      loadConfig(schema, { ...key, DEPLOY_READY_TIMEOUT: '500ms', RECONCILE_INTERVAL: '2m' }),
    ).toMatchObject({
      DEPLOY_READY_TIMEOUT: 500,
      RECONCILE_INTERVAL: 120_000,
    });
    expect(() => loadConfig(schema, { DEPLOY_READY_TIMEOUT: 'soon' })).toThrow(/DEPLOY_READY_TIMEOUT/);
    expect(() => loadConfig(schema, { DOCKER_NETWORK: 'bad name' })).toThrow(/DOCKER_NETWORK/);
  });

  it('deployer config - DEPLOY_CONCURRENCY is a whole number from 1 to 8 (each start holds a pooled connection)', () => {
    expect(loadConfig(schema, { ...key, DEPLOY_CONCURRENCY: '3' }).DEPLOY_CONCURRENCY).toBe(3);
    expect(() => loadConfig(schema, { ...key, DEPLOY_CONCURRENCY: '0' })).toThrow(/DEPLOY_CONCURRENCY/);
    expect(() => loadConfig(schema, { ...key, DEPLOY_CONCURRENCY: '9' })).toThrow(/DEPLOY_CONCURRENCY/);
    expect(() => loadConfig(schema, { ...key, DEPLOY_CONCURRENCY: 'many' })).toThrow(/DEPLOY_CONCURRENCY/);
  });
});
