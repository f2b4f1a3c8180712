import { generateKeyPairSync } from 'node:crypto';
import type { KeyType } from './issuer.ts';

/** A fresh private key in PKCS#8 PEM. A new key for every order: renewals never reuse a key. */
export function generatePrivateKeyPem(keyType: KeyType): string {
  switch (keyType) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
    default:
      return assertNever(keyType);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown key type ${String(value)}`);
}
