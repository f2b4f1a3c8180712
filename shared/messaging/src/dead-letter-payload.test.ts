import { describe, expect, it } from 'vitest';
import { deadLetterPayload } from './dead-letter-payload.ts';

describe('dead letter payload', () => {
  it('dead letters - env values and credentials are redacted, the rest of the event kept', () => {
    const event = {
      id: 'e1',
      type: 'apps.updated',
      data: {
        appId: 'a1',
        image: 'x:1',
        env: { DB_PASSWORD: 'hunter2', MODE: 'prod' },
        nested: [{ apiToken: 'cf-secret-token' }],
      },
    };
    const kept = deadLetterPayload(JSON.stringify(event));
    expect(kept).not.toContain('hunter2');
    expect(kept).not.toContain('prod');
    expect(kept).not.toContain('cf-secret-token');
    expect(JSON.parse(kept)).toEqual({
      id: 'e1',
      type: 'apps.updated',
      data: {
        appId: 'a1',
        image: 'x:1',
        env: { DB_PASSWORD: '[redacted]', MODE: '[redacted]' },
        nested: [{ apiToken: '[redacted]' }],
      },
    });
    expect(deadLetterPayload('not json {')).toBe('not json {');
    expect(deadLetterPayload('x'.repeat(10), 4)).toBe('xxxx');
  });
});
