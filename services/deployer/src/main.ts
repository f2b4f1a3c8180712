import { runService } from '@gatehouse/runtime';
import { deployerConfigShape } from './config.ts';
import { createDockerClient } from './docker-client.ts';

await runService({
  name: 'deployer',
  configShape: deployerConfigShape,
  defaultHealthPort: 9102,
  async start({ config, addReadinessCheck }) {
    const docker = createDockerClient(config.DOCKER_HOST);
    addReadinessCheck('docker', async () => {
      await docker.ping();
    });
    return undefined;
  },
});
