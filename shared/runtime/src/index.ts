export { assertNever } from './assert-never.ts';
export {
  closeServer,
  createHealthApp,
  listen,
  type ReadinessCheck,
  startHealthServer,
} from './health-server.ts';
export { traceHttpRequest, traceRequests } from './http-tracing.ts';
export {
  addMetricsSource,
  escapeLabelValue,
  type MetricsSource,
  removeMetricsSource,
} from './metrics-exposition.ts';
export { type Periodic, startPeriodic } from './periodic.ts';
export { retryUntilReady } from './retry.ts';
export {
  type RuntimeConfig,
  runService,
  runtimeConfigSchema,
  type ServiceContext,
  type ServiceDefinition,
  type StartedService,
} from './run-service.ts';
