export * from './contracts.ts';
export {
  createEvent,
  defineEvent,
  describeIssues,
  type Envelope,
  type EventContract,
  type EventData,
  envelopeSchema,
} from './envelope.ts';
export { type Explanation, explainErrorKind } from './explanations.ts';
export {
  allStreams,
  domainOfType,
  type EventDomain,
  eventDomains,
  type StreamDefinition,
  streamFor,
  subjectForType,
} from './streams.ts';
export { tcpProxyEntryPoint } from './tcp-proxy.ts';
