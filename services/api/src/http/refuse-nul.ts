import type { RequestHandler } from 'express';
import { ApiError } from '../errors.ts';

/** Where in a parsed JSON body the first NUL character sits (`env.KEY`, `command[2]`), or undefined. */
export function findNul(value: unknown, path: string[] = [], depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path.join('.') || '(body)' : undefined;
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const [key, field] of Object.entries(value)) {
    if (key.includes('\0')) return [...path, '(a key)'].join('.');
    const found = findNul(field, [...path, Array.isArray(value) ? `[${key}]` : key], depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Refuses a NUL character anywhere in the URL or the JSON body with a 400: no field may hold one, and
 * Postgres refuses it in text and jsonb (a query with one failed as a 500 before).
 */
export function refuseNul(): RequestHandler {
  return (request, _response, next) => {
    if (/%00|\0/i.test(request.originalUrl)) {
      next(
        new ApiError('validation', 'the URL contains a NUL character (%00); remove it', {
          errors: [{ field: '(url)', message: 'must not contain NUL' }],
        }),
      );
      return;
    }
    const field = findNul(request.body);
    if (field !== undefined) {
      next(
        new ApiError('validation', `${field} contains a NUL character; remove it`, {
          errors: [{ field: field.replace(/\.\[/g, '['), message: 'must not contain a NUL character' }],
        }),
      );
      return;
    }
    next();
  };
}
