export { DnsProviderError, type DnsProviderErrorCode, isDnsProviderError } from '../dns-provider-error.ts';
export {
  createRfc2136Provider,
  type Rfc2136Provider,
  type Rfc2136ProviderOptions,
} from './rfc2136-provider.ts';
export type { DnsServer } from './transport.ts';
export type { TsigAlgorithm } from './tsig.ts';
