import type { DeployFailureReason } from '@gatehouse/db';

export type { DeployFailureReason };

/**
 * A deployment that cannot succeed as specified: retrying the same revision will not help, so it is
 * recorded as failed instead of redelivered. Any other error from Docker or Postgres is retryable.
 */
export class DeployError extends Error {
  override readonly name = 'DeployError';
  readonly reason: DeployFailureReason;
  constructor(reason: DeployFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
