export { createLogger, type Logger, type LoggerOptions } from './logger.ts';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './sdk.ts';
export {
  contextFromHeaders,
  currentTraceHeaders,
  recordFinishedSpan,
  SpanKind,
  type SpanOptions,
  withSpan,
} from './tracing.ts';
