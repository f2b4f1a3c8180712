import type { issueErrorKindSchema } from '@gatehouse/events';
import type { z } from 'zod';

export type IssueErrorKind = z.infer<typeof issueErrorKindSchema>;

/**
 * An issuance failure, classified. Retry policy keys off `kind`:
 * - `policy`: the CA refuses the names (blocklist, unsupported identifier); retrying cannot help.
 * - `rate-limited`: the CA's limit; `retryAfter` says when, if the CA told us.
 * - `validation`, `dns`: the challenge failed; another challenge type or CA may succeed.
 * - `connection`, `ca-server`: the CA is unreachable or broken; another CA may succeed.
 * - `dns-provider-auth`: our DNS provider refused our credentials; nothing was sent to the CA.
 */
export class IssueError extends Error {
  override readonly name = 'IssueError';
  readonly kind: IssueErrorKind;
  readonly retryAfter: Date | undefined;
  /** The ACME problem type, when the CA sent one. */
  readonly problemType: string | undefined;

  constructor(
    kind: IssueErrorKind,
    message: string,
    options: { retryAfter?: Date | undefined; problemType?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.retryAfter = options.retryAfter;
    this.problemType = options.problemType;
  }
}

export function isIssueError(error: unknown): error is IssueError {
  return error instanceof IssueError;
}
