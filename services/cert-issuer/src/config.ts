import { hostPort, key256 } from '@gatehouse/config';

/** cert-issuer's own variables (see the README's configuration table). */
export const certIssuerConfigShape = {
  /** host:port of the HTTP-01 responder Traefik sends `/.well-known/acme-challenge/` to. */
  HTTP01_LISTEN: hostPort.prefault('127.0.0.1:8081'),
  /** Encrypts ACME account and certificate keys at rest (32 bytes, base64 or hex; or `_FILE`). */
  GATEHOUSE_MASTER_KEY: key256,
};
