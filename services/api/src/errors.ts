import type { FieldError } from './http/field-errors.ts';

/**
 * Every way a request can be refused on purpose; the HTTP layer maps each to a status. `unprocessable` (422): the
 * input is well-formed but asks for something the policy refuses (an ACME certificate for an internal name).
 */
export type ApiErrorCode = 'validation' | 'unprocessable' | 'not-found' | 'conflict';

/**
 * A refusal the caller can act on. `message` is shown to the caller as the problem's detail, so it says what
 * to do and carries no internals; `errors` lists the bad fields of a validation error.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly errors: FieldError[];

  constructor(code: ApiErrorCode, message: string, options: { errors?: FieldError[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.errors = options.errors ?? [];
  }
}
