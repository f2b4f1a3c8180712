export { createWebhookProvider, type WebhookProviderOptions } from './webhook-provider.ts';
