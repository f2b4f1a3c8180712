export { type AcmeAgentOptions, createAcmeAgent } from './acme-agent.ts';
export { type AcmeDirectory, AcmeDirectoryError, acmeDirectorySchema } from './acme-directory.ts';
export {
  type AcmeAnswer,
  type AcmeHttpClient,
  type AcmeHttpClientOptions,
  type AcmeRequest,
  createAcmeHttpClient,
} from './acme-http-client.ts';
export { createDirectoryCache, type DirectoryCache, type DirectoryCacheOptions } from './directory-cache.ts';
export { createNoncePool, type NoncePool, type NoncePoolOptions } from './nonce-pool.ts';
