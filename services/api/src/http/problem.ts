import type { Response } from 'express';

/**
 * Sends an RFC 9457 problem document. `detail` tells the caller what was wrong and what to do;
 * it never carries a stack trace or internal identifiers.
 */
export function sendProblem(
  response: Response,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  response
    .status(status)
    .type('application/problem+json')
    .json({ type: 'about:blank', title, status, detail, ...extra });
}
