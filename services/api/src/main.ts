import { createSecretBox } from '@gatehouse/pki';
import { closeServer, listen, runService } from '@gatehouse/runtime';
import { sealLegacyAppEnv } from './apps/app-service.ts';
import { reservedTcpPorts } from './apps/tcp-ports.ts';
import { apiConfigShape } from './config.ts';
import { createApiApp } from './http/app.ts';

await runService({
  name: 'api',
  configShape: apiConfigShape,
  defaultHealthPort: 9101,
  async start({ config, logger, db }) {
    const box = createSecretBox(config.GATEHOUSE_MASTER_KEY);
    const sealed = await sealLegacyAppEnv(db, box);
    if (sealed > 0) logger.info({ apps: sealed }, 'sealed plaintext app env');
    const app = createApiApp({
      token: config.GATEHOUSE_API_TOKEN,
      logger,
      db,
      box,
      rateLimitOverrides: config.ACME_RATE_LIMITS,
      dnsProviderPolicy: { execDir: config.DNS_EXEC_DIR, webhookAllow: config.DNS_WEBHOOK_ALLOW },
      reservedTcpPorts: reservedTcpPorts({
        apiPort: config.API_LISTEN.port,
        extra: config.TCP_RESERVED_PORTS,
      }),
    });
    const server = await listen(app, config.API_LISTEN, logger, 'api listening');
    return { stop: () => closeServer(server) };
  },
});
