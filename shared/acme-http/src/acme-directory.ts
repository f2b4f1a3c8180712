import { z } from 'zod';

/** The parts of an ACME directory (RFC 8555 §7.1.1) Gatehouse reads; anything else is kept as sent. */
export const acmeDirectorySchema = z
  .object({
    newNonce: z.url(),
    newAccount: z.url(),
    newOrder: z.url(),
    /** RFC 9773: present when the CA offers ACME Renewal Information. */
    renewalInfo: z.url().optional(),
    meta: z
      .object({
        caaIdentities: z.array(z.string()).optional(),
        /** draft-ietf-acme-profiles: profile name → description. */
        profiles: z.record(z.string(), z.unknown()).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

export type AcmeDirectory = z.infer<typeof acmeDirectorySchema>;

/** Thrown when a directory cannot be read or is not an ACME directory; the message names the URL. */
export class AcmeDirectoryError extends Error {
  override readonly name = 'AcmeDirectoryError';
}
