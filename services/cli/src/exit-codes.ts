/**
 * Exit codes of `gatehouse` (README "CLI"). Scripts may rely on them; add new ones, never renumber.
 */
export const exitCodes = {
  /** Done. */
  ok: 0,
  /** The API refused the request (400, 409, …) or some items of a bulk action failed. */
  failed: 1,
  /** Wrong command line or environment (unknown command, missing argument, GATEHOUSE_URL unset). */
  usage: 2,
  /** The token was refused (401). */
  unauthorized: 3,
  /** No such certificate or app (404). */
  notFound: 4,
  /** A CA rate limit forbids it now (429); the output says when it is possible again. */
  rateLimited: 5,
  /** The API could not be reached or answered 5xx. */
  unavailable: 6,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** An error that ends the command with a message and an exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;
  readonly details: unknown;

  constructor(message: string, exitCode: ExitCode, details?: unknown) {
    super(message);
    this.exitCode = exitCode;
    this.details = details;
  }
}
