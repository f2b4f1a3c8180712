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
  CORE_FILE_NAME,
  PEM_FILE_PATTERN,
  pemFileNames,
  REDIRECT_TO_HTTPS_MIDDLEWARE_NAME,
  REDIRECT_TO_HTTPS_MIDDLEWARE_REF,
} from './names.ts';
export type { AppDomain, AppProxyInput, WwwMode } from './render-app.ts';
export { renderAppConfig, tlsHostnames, WEB_ENTRYPOINT, WEBSECURE_ENTRYPOINT } from './render-app.ts';
export type { CoreProxyInput } from './render-core.ts';
export { ACME_HTTP01_PRIORITY, renderCoreConfig } from './render-core.ts';
export { serializeTraefikConfig, TemplateDelimiterError } from './serialize.ts';
export type { TraefikValidation } from './validate.ts';
export { createTraefikValidator, validateTraefikConfig } from './validate.ts';
