/** Field names whose values never go into `dead_letters` (a message on the bus may carry what it should not). */
const secretFields = new Set([
  'env',
  'keySecret',
  'apiToken',
  'token',
  'password',
  'secret',
  'privateKey',
  'privateKeyPem',
  'keyPem',
  'hmacKey',
]);

function redact(value: unknown, depth: number): unknown {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => {
      if (!secretFields.has(key)) return [key, redact(field, depth + 1)];
      // Keep the shape (which variables) so the dead letter still explains itself, never the values.
      if (field !== null && typeof field === 'object' && !Array.isArray(field))
        return [key, Object.fromEntries(Object.keys(field).map((name) => [name, '[redacted]']))];
      return [key, '[redacted]'];
    }),
  );
}

/**
 * The payload of a terminated message as it is kept in `dead_letters`: JSON with the values of secret fields
 * (an app's `env`, credentials, keys) replaced by `[redacted]`, bounded to `maxLength`. A payload that is not
 * JSON is kept as text (it cannot be a valid event, and nothing of ours sends secrets as text).
 */
export function deadLetterPayload(text: string, maxLength = 100_000): string {
  let kept = text;
  try {
    kept = JSON.stringify(redact(JSON.parse(text), 0));
  } catch {
    // Not JSON: kept as it came.
  }
  return kept.slice(0, maxLength);
}
