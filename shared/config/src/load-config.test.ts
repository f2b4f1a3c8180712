import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from './config-error.ts';
import { loadConfig } from './load-config.ts';
import { commaList, hostPort, key256, serviceEnvShape } from './schemas.ts';

const schema = z.object({
  ...serviceEnvShape,
  API_LISTEN: hostPort.default({ host: '127.0.0.1', port: 8080 }),
  GATEHOUSE_MASTER_KEY: key256,
  ADMIN_EMAILS: commaList(z.email()).optional(),
});
const goodKey = Buffer.alloc(32, 7).toString('base64');

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('config - applies defaults and parses typed values', () => {
    const config = loadConfig(schema, { GATEHOUSE_MASTER_KEY: goodKey, ADMIN_EMAILS: 'a@x.test, b@x.test' });
    expect(config.NATS_URL).toEqual(['nats://127.0.0.1:4222']);
    expect(config.API_LISTEN).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.GATEHOUSE_MASTER_KEY.length).toBe(32);
    expect(config.ADMIN_EMAILS).toEqual(['a@x.test', 'b@x.test']);
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('config - names every bad variable and what it expects', () => {
    const issues = issuesOf(() =>
      loadConfig(schema, { GATEHOUSE_MASTER_KEY: 'short', API_LISTEN: 'localhost:99999', LOG_LEVEL: 'loud' }),
    );
    const byVariable = Object.fromEntries(issues.map((issue) => [issue.variable, issue.message]));
    expect(Object.keys(byVariable).sort()).toEqual(['API_LISTEN', 'GATEHOUSE_MASTER_KEY', 'LOG_LEVEL']);
    expect(byVariable.GATEHOUSE_MASTER_KEY).toContain('openssl rand -base64 32');
    expect(byVariable.API_LISTEN).toContain('65535');
    expect(byVariable.LOG_LEVEL).toContain('"loud"');
  });

  it('config - never echoes a secret value in an error', () => {
    const issues = issuesOf(() => loadConfig(schema, { GATEHOUSE_MASTER_KEY: 'hunter2-not-a-key' }));
    expect(issues[0]?.message).not.toContain('hunter2');
    expect(issues[0]?.message).toContain('hidden');
  });

  it('config - hides every variable of the explicit secret list, such as ACME_EAB whose name has no KEY in it', () => {
    const eab = JSON.stringify({
      'https://ca.test/dir': { keyId: 'kid', hmacKey: 'hmac+secret/not-base64url' },
    });
    const withEab = z.object({
      ACME_EAB: z
        .string()
        .refine((value) => !value.includes('+'), 'expected base64url')
        .optional(),
    });
    const issues = issuesOf(() => loadConfig(withEab, { ACME_EAB: eab }));
    expect(issues[0]?.variable).toBe('ACME_EAB');
    expect(issues[0]?.message).not.toContain('hmac+secret');
    expect(issues[0]?.message).toContain('hidden');
  });

  it('config - reads X_FILE secrets and refuses both forms at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
    const file = join(dir, 'key');
    writeFileSync(file, `${goodKey}\n`);
    const config = loadConfig(schema, { GATEHOUSE_MASTER_KEY_FILE: file });
    expect(config.GATEHOUSE_MASTER_KEY.equals(Buffer.alloc(32, 7))).toBe(true);

    const both = issuesOf(() =>
      loadConfig(schema, { GATEHOUSE_MASTER_KEY: goodKey, GATEHOUSE_MASTER_KEY_FILE: file }),
    );
    expect(both[0]?.message).toContain('not both');
    const missing = issuesOf(() => loadConfig(schema, { GATEHOUSE_MASTER_KEY_FILE: join(dir, 'nope') }));
    expect(missing[0]).toMatchObject({ variable: 'GATEHOUSE_MASTER_KEY_FILE' });
    expect(missing[0]?.message).toContain('ENOENT');
  });

  it('config - treats an empty value as unset', () => {
    const issues = issuesOf(() => loadConfig(schema, { GATEHOUSE_MASTER_KEY: '  ' }));
    expect(issues[0]?.message).toBe('required, but it is not set');
  });

  it('config - hides passwords inside URLs', () => {
    const issues = issuesOf(() =>
      loadConfig(schema, { GATEHOUSE_MASTER_KEY: goodKey, DATABASE_URL: 'mysql://app:s3cret@db:3306/x' }),
    );
    expect(issues[0]?.message).toContain('mysql://app:***@db:3306/x');
    expect(issues[0]?.message).not.toContain('s3cret');
  });
});
