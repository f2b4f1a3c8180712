export { type ResolveHost, systemResolveHost } from './guarded-post.ts';
export { createWebhookProvider, type WebhookProviderOptions } from './webhook-provider.ts';
