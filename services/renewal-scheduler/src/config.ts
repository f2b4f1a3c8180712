import { duration, key256 } from '@gatehouse/config';
import { z } from 'zod';

const seconds = z.coerce.number().int().min(1).max(3600);

/** renewal-scheduler's own variables (see the README's configuration table). */
export const renewalSchedulerConfigShape = {
  /** How often due certificates are looked for, in seconds. */
  RENEWAL_TICK_SECONDS: seconds.default(30),
  /** Most certificates one tick hands out; the rest wait for the next tick. */
  RENEWAL_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(200),
  /** Seals the key of the self-signed fallback made when a certificate expires (32 bytes; or `_FILE`). */
  GATEHOUSE_MASTER_KEY: key256,
  /** PEM file with extra CAs to trust for the ACME server's HTTPS (for ARI polls against a private or test CA). */
  ACME_CA_BUNDLE: z.string().min(1).optional(),
  /** A certificate that never got issued falls back to a self-signed one after this many reminder mails. */
  FALLBACK_AFTER_REMINDERS: z.coerce.number().int().min(1).max(1000).default(30),
  /** `certs.expiring` goes out when an unrenewed certificate has less than this left. */
  EXPIRING_WITHIN: duration.prefault('7d'),
  /**
   * Most certificates with their own series on `/metrics` (not ready first, then soonest expiry; ~6 samples and
   * ~1 KiB each); the rest are counted in `gatehouse_certificate_metrics_omitted` and in `gatehouse_certificates`.
   */
  CERTIFICATE_METRICS_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
};
