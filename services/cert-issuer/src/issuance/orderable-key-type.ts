import type { CertificateKeyType } from '@gatehouse/db';
import { type KeyType, keyTypeSchema } from '@gatehouse/events';

/**
 * The key type to order a certificate with: its own, when Gatehouse orders that type. Only an uploaded
 * certificate can carry one it does not (RSA 3072); undefined then, and the caller refuses in its own terms.
 */
export function orderableKeyType(keyType: CertificateKeyType): KeyType | undefined {
  const parsed = keyTypeSchema.safeParse(keyType);
  return parsed.success ? parsed.data : undefined;
}
