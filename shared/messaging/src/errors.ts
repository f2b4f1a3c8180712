/**
 * Thrown by an event handler for a failure that retrying will not fix (the event refers to
 * something that can never exist, a policy refuses it). The message is terminated and recorded
 * as a dead letter. Any other error is treated as transient and the message is redelivered later.
 */
export class PermanentEventError extends Error {
  override readonly name = 'PermanentEventError';
  readonly retryable = false;
}

export function isPermanent(error: unknown): boolean {
  return (error as { retryable?: unknown } | null)?.retryable === false;
}
