/**
 * Why a DNS provider (any kind) failed, for retry policy and for the operator:
 * - `auth`: the server rejected our credentials (TSIG BADSIG/BADKEY/BADTIME, NOTAUTH); retrying cannot help.
 * - `refused`: the server refused the update (policy does not allow it, or it serves no zone for the name).
 * - `timeout`: no answer in time, after the retries; retryable.
 * - `server`: the server failed (SERVFAIL, connection reset); retryable.
 * - `protocol`: a malformed, unexpected or unverifiable answer; not retryable.
 */
export type DnsProviderErrorCode = 'auth' | 'refused' | 'timeout' | 'server' | 'protocol';

export class DnsProviderError extends Error {
  override readonly name = 'DnsProviderError';
  readonly code: DnsProviderErrorCode;
  readonly retryable: boolean;

  constructor(code: DnsProviderErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retryable = code === 'timeout' || code === 'server';
  }
}

export function isDnsProviderError(error: unknown): error is DnsProviderError {
  return error instanceof DnsProviderError;
}
