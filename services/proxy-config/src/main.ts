import { runService } from '@gatehouse/runtime';
import { proxyConfigShape } from './config.ts';
import { ensureWritableDirectory } from './directory-check.ts';

await runService({
  name: 'proxy-config',
  configShape: proxyConfigShape,
  defaultHealthPort: 9105,
  async start({ config, addReadinessCheck }) {
    await ensureWritableDirectory(config.TRAEFIK_DYNAMIC_DIR);
    await ensureWritableDirectory(config.TRAEFIK_CERTS_DIR);
    // Not ready when Traefik's directories stop being writable (a volume unmounted, permissions changed).
    addReadinessCheck('traefik-dynamic-dir', () => ensureWritableDirectory(config.TRAEFIK_DYNAMIC_DIR));
    addReadinessCheck('traefik-certs-dir', () => ensureWritableDirectory(config.TRAEFIK_CERTS_DIR));
    return undefined;
  },
});
