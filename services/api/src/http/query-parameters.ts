import type { z } from 'zod';
import { type FieldError, fieldPath } from './field-errors.ts';

/**
 * Parses each query parameter with its schema: an unknown parameter or a bad value adds a field error (the
 * caller throws them all at once). Parameters in `handledElsewhere` (the pagination's `limit` and `cursor`) are
 * skipped. Returns the values that parsed.
 */
export function parseQueryParameters<Shape extends Record<string, z.ZodType>>(
  query: Record<string, unknown>,
  schemas: Shape,
  errors: FieldError[],
  options: { unknownMessage: string; handledElsewhere?: readonly string[] },
): Partial<{ [Key in keyof Shape]: z.output<Shape[Key]> }> {
  const values: Partial<{ [Key in keyof Shape]: z.output<Shape[Key]> }> = {};
  for (const [key, value] of Object.entries(query)) {
    if (options.handledElsewhere?.includes(key)) continue;
    const schema = Object.hasOwn(schemas, key) ? schemas[key as keyof Shape] : undefined;
    if (schema === undefined) {
      errors.push({ field: fieldPath([key]), message: options.unknownMessage });
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      errors.push({ field: key, message: parsed.error.issues[0]?.message ?? 'is invalid' });
    else values[key as keyof Shape] = parsed.data as z.output<Shape[keyof Shape]>;
  }
  return values;
}
