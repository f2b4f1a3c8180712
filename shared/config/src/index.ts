export { ConfigError, type ConfigIssue } from './config-error.ts';
export { execCommandReason, execDirectory } from './exec-policy.ts';
export { type Env, loadConfig } from './load-config.ts';
export {
  allowsHost,
  checkResolvedAddress,
  forbiddenAddressReason,
  forbiddenHostReason,
  internalServiceNames,
  type OutboundAllowlist,
  outboundAllowlist,
} from './outbound-policy.ts';
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
