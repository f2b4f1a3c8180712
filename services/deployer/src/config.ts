import { z } from 'zod';

/** deployer's own variables (see the README's configuration table). */
export const deployerConfigShape = {
  /** Docker engine: unix:///var/run/docker.sock, or tcp://host:port. */
  DOCKER_HOST: z
    .string()
    .regex(/^(unix|tcp|http|https):\/\/.+/, 'expected unix:///path/to/docker.sock or tcp://host:port')
    .default('unix:///var/run/docker.sock'),
};
