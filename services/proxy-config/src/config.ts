import { z } from 'zod';

/** proxy-config's own variables (see the README's configuration table). */
export const proxyConfigShape = {
  /** Directory Traefik's file provider watches; proxy-config owns every `*.yml` in it. */
  TRAEFIK_DYNAMIC_DIR: z.string().min(1).default('.gatehouse-dev/traefik/dynamic'),
  /** Directory for certificate and key PEM files (mode 0600), as Traefik sees them. */
  TRAEFIK_CERTS_DIR: z.string().min(1).default('.gatehouse-dev/traefik/certs'),
};
