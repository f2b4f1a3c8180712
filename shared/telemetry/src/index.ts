export type { Context } from '@opentelemetry/api';
export { createLogger, type Logger, type LoggerOptions } from './logger.ts';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './sdk.ts';
export {
  captureContext,
  contextFromHeaders,
  currentTraceHeaders,
  newTraceContext,
  recordFinishedSpan,
  SpanKind,
  type SpanOptions,
  withSpan,
  withSpanPerCause,
} from './tracing.ts';
