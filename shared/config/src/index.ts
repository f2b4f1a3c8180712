export { ConfigError, type ConfigIssue } from './config-error.ts';
export { type Env, loadConfig } from './load-config.ts';
export {
  commaList,
  duration,
  type HostPort,
  hostPort,
  key256,
  logLevel,
  postgresUrl,
  serviceEnvShape,
} from './schemas.ts';
