import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { plainErrorMap, zodFieldErrors } from './field-errors.ts';

/**
 * A request body's JSON Schema for the OpenAPI document, made from the zod schema the route validates with, so
 * the document cannot drift from the rules. Checks zod cannot express in JSON Schema (refinements, such as
 * "no credentials in the URL") stay in zod only: the document is what a client can check before sending.
 */
export function requestBodyJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  });
  return jsonSchema;
}

/** The body parsed by `schema`, or a 400 problem whose `errors` name every bad field. */
export function parseRequestBody<Schema extends z.ZodType>(
  schema: Schema,
  body: unknown,
  detail: string,
): z.output<Schema> {
  const parsed = schema.safeParse(body, { error: plainErrorMap });
  if (!parsed.success) throw new ApiError('validation', detail, { errors: zodFieldErrors(parsed.error) });
  return parsed.data;
}
