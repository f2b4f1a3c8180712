export type { StagedFile, WriteOptions, WriteOutcome } from './atomic-write.ts';
export {
  commitStagedFile,
  commitStagedFileSync,
  discardStagedFile,
  flushFileSystem,
  fsyncDirectory,
  fsyncStagedFile,
  removeOrphans,
  stageFile,
  stageFileSync,
  writeFileAtomic,
} from './atomic-write.ts';
export type {
  TraefikCertificateFiles,
  TraefikDynamicConfig,
  TraefikLoadBalancerService,
  TraefikMiddleware,
  TraefikRouter,
  TraefikTcpLoadBalancerService,
  TraefikTcpRouter,
} from './dynamic-config.ts';
export type { AppMiddlewareKind, AppRouterKind } from './names.ts';
export {
  ACME_HTTP01_ROUTER_NAME,
  ACME_HTTP01_SERVICE_NAME,
  APP_FILE_PATTERN,
  appFileName,
  appMiddlewareName,
  appRouterName,
  appServiceName,
  appTcpRouterName,
  CORE_FILE_NAME,
  ON_DEMAND_FILE_NAME,
  ON_DEMAND_TLS_ROUTER_NAME,
  ON_DEMAND_TLS_SERVICE_NAME,
  ON_DEMAND_UPSTREAM_SERVICE_NAME,
  onDemandRouterName,
  PEM_FILE_PATTERN,
  pemFileNames,
  REDIRECT_TO_HTTPS_MIDDLEWARE_NAME,
  REDIRECT_TO_HTTPS_MIDDLEWARE_REF,
} from './names.ts';
export type { AppDomain, AppProxyInput, AppTcpRoute, WwwMode } from './render-app.ts';
export { renderAppConfig, tlsHostnames, WEB_ENTRYPOINT, WEBSECURE_ENTRYPOINT } from './render-app.ts';
export type { CoreProxyInput } from './render-core.ts';
export { ACME_HTTP01_PRIORITY, ON_DEMAND_TLS_PRIORITY, renderCoreConfig } from './render-core.ts';
export type { OnDemandHostInput } from './render-on-demand.ts';
export { renderOnDemandConfig } from './render-on-demand.ts';
export { serializeTraefikConfig, TemplateDelimiterError } from './serialize.ts';
export type { TraefikValidation } from './validate.ts';
export { createTraefikValidator, validateTraefikConfig } from './validate.ts';
