import { describe, expect, it } from 'vitest';
import {
  type AppSpec,
  appNetworkName,
  type ContainerOptions,
  containerCreateOptions,
} from './app-containers.ts';

const app: AppSpec = {
  id: '6b3f7e8e-6d5c-4a59-9d1c-2f4c1d3a9e01',
  name: 'shop',
  image: 'ghcr.io/acme/shop:v1',
  port: 8080,
  env: { A: '1' },
  command: null,
  revision: 3,
  memoryMb: 128,
  pidsLimit: 64,
  network: 'shared',
};
const shared: ContainerOptions = {
  stack: 'gatehouse',
  network: 'gatehouse-apps',
  imagePull: 'never',
  pullTimeoutMs: 1,
};

describe('container create options', () => {
  it('deployer - every container is confined: no-new-privileges, NET_RAW dropped, memory (no extra swap) and pids bounded', () => {
    const options = containerCreateOptions(app, shared);
    expect(options.HostConfig).toMatchObject({
      NetworkMode: 'gatehouse-apps',
      SecurityOpt: ['no-new-privileges:true'],
      CapDrop: ['NET_RAW'],
      Memory: 128 * 1024 * 1024,
      MemorySwap: 128 * 1024 * 1024,
      PidsLimit: 64,
    });
    expect(options.HostConfig?.Privileged).toBeUndefined();
    expect(options.HostConfig?.CapAdd).toBeUndefined();
    expect(options.Env).toEqual(['A=1', 'PORT=8080']);
  });

  it('deployer - an isolated app gets a network of its own; on the host network (tests) there is none to give', () => {
    expect(containerCreateOptions({ ...app, network: 'isolated' }, shared).HostConfig?.NetworkMode).toBe(
      appNetworkName('gatehouse', 'shop'),
    );
    expect(appNetworkName('gatehouse', 'shop')).toBe('gatehouse-app-shop');
    expect(
      containerCreateOptions({ ...app, network: 'isolated' }, { ...shared, network: 'host' }).HostConfig
        ?.NetworkMode,
    ).toBe('host');
  });
});
