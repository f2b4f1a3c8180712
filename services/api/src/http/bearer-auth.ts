import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { sendProblem } from './problem.ts';

/** Requires `Authorization: Bearer <token>`; compares digests in constant time. */
export function bearerAuth(token: string): RequestHandler {
  const expected = digest(token);
  return (request, response, next) => {
    const header = request.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="gatehouse"');
      sendProblem(
        response,
        401,
        'Unauthorized',
        match ? 'the bearer token is not valid' : 'send the API token as "Authorization: Bearer <token>"',
      );
      return;
    }
    next();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
