export { type CloudflareProviderOptions, createCloudflareProvider } from './cloudflare-provider.ts';
