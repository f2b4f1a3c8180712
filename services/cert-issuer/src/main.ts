import { createSecretBox } from '@gatehouse/pki';
import { closeServer, listen, runService } from '@gatehouse/runtime';
import { createHttp01Responder } from './challenges/http01-responder.ts';
import { certIssuerConfigShape } from './config.ts';

await runService({
  name: 'cert-issuer',
  configShape: certIssuerConfigShape,
  defaultHealthPort: 9103,
  async start({ config, db, logger }) {
    // Built now so a malformed master key fails at start, not at the first issuance.
    createSecretBox(config.GATEHOUSE_MASTER_KEY);
    const responder = await listen(
      createHttp01Responder(db),
      config.HTTP01_LISTEN,
      logger,
      'http-01 responder listening',
    );
    return { stop: () => closeServer(responder) };
  },
});
