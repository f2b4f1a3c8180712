export { type CaaCheckOptions, type CaaDecision, caaLookupNames, checkCaa, evaluateCaa } from './caa.ts';
export { checkHttp01Reachable, type Http01SelfCheckOptions } from './http01-self-check.ts';
export {
  type CaaRecord,
  createDnsResolver,
  type DnsFailure,
  DnsQueryError,
  type DnsResolver,
  type DnsResolverOptions,
  describeDnsFailure,
} from './resolver.ts';
export { checkResolves, lookupNameFor, type ResolvesCheckOptions } from './resolves.ts';
export {
  type PreflightMode,
  type PreflightOptions,
  type PreflightOutcome,
  runPreflight,
} from './run-preflight.ts';
