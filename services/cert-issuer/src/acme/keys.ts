import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyType } from './issuer.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

const keyOptions = {
  'ecdsa-p256': { type: 'ec', options: { namedCurve: 'P-256' } },
  'ecdsa-p384': { type: 'ec', options: { namedCurve: 'P-384' } },
  'rsa-2048': { type: 'rsa', options: { modulusLength: 2048 } },
  'rsa-4096': { type: 'rsa', options: { modulusLength: 4096 } },
} as const satisfies Record<KeyType, { type: 'ec' | 'rsa'; options: object }>;

/**
 * A fresh private key in PKCS#8 PEM. A new key for every order: renewals never reuse a key. Generated on
 * libuv's thread pool (node:crypto's async keygen), so an RSA-4096 key (hundreds of ms) never stalls the event
 * loop that serves every other order and the HTTP-01 responder.
 */
export async function generatePrivateKeyPem(keyType: KeyType): Promise<string> {
  const chosen = keyOptions[keyType] as (typeof keyOptions)[KeyType] | undefined;
  if (!chosen) throw new Error(`unknown key type ${String(keyType)}`);
  const { type, options } = chosen;
  const { privateKey } = await generateKeyPairAsync(type as 'ec', {
    ...(options as { namedCurve: string }),
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}
