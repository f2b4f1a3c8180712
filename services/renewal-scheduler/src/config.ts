import { key256 } from '@gatehouse/config';
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
};
