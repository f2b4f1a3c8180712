import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExecProvider } from './exec-provider.ts';
import { maxSummaryLength, summarizeOutput } from './output-summary.ts';

const root = mkdtempSync(join(tmpdir(), 'exec-provider-'));
/** DNS_EXEC_DIR of these tests; `outside` is a sibling the programs must not be run from. */
const dir = join(root, 'hooks');
const outside = join(root, 'elsewhere');
mkdirSync(dir);
mkdirSync(outside);
function script(name: string, body: string, where = dir): string {
  const path = join(where, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('exec provider', () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('exec - runs `<command> present|cleanup <fqdn.> <value>` without a shell', async () => {
    const log = join(dir, 'calls.log');
    const command = script('record.sh', `printf '%s|%s|%s\\n' "$1" "$2" "$3" >> ${log}`);
    const provider = createExecProvider({ command, directory: dir });
    await provider.present('_acme-challenge.a.example.com', 'v; rm -rf /');
    await provider.cleanup('_acme-challenge.a.example.com', 'v; rm -rf /');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'present|_acme-challenge.a.example.com.|v; rm -rf /',
      'cleanup|_acme-challenge.a.example.com.|v; rm -rf /',
    ]);
  });

  it('exec - refused without DNS_EXEC_DIR, outside it, through .. and through a symbolic link out of it', async () => {
    const marker = join(root, 'ran');
    const body = `touch ${marker}`;
    const inside = script('inside.sh', body);
    const escaped = script('escaped.sh', body, outside);
    symlinkSync(escaped, join(dir, 'link.sh'));
    const attempts = [
      createExecProvider({ command: inside, directory: undefined }),
      createExecProvider({ command: escaped, directory: dir }),
      createExecProvider({ command: `${dir}/../elsewhere/escaped.sh`, directory: dir }),
      createExecProvider({ command: join(dir, 'link.sh'), directory: dir }),
      createExecProvider({ command: '/bin/sh', directory: dir }),
    ];
    const messages: string[] = [];
    for (const provider of attempts) {
      const error = await provider.present('_acme-challenge.a.example.com', 'v').catch((e: Error) => e);
      expect(error).toMatchObject({ code: 'refused' });
      messages.push((error as Error).message);
    }
    expect(messages[0]).toContain('DNS_EXEC_DIR is not set');
    expect(messages[1]).toContain(`inside ${dir}`);
    expect(messages[2]).toContain('..');
    expect(messages[3]).toContain('symbolic link');
    expect(() => readFileSync(marker)).toThrow();
  });

  it('exec - the program gets a minimal environment: no DATABASE_URL, master key or NATS credentials', async () => {
    const out = join(dir, 'env.out');
    process.env.DATABASE_URL = 'postgres://gatehouse:db-password@postgres/gatehouse';
    process.env.GATEHOUSE_MASTER_KEY = 'master-key-material';
    try {
      await createExecProvider({ command: script('env.sh', `env > ${out}`), directory: dir }).present(
        '_acme-challenge.a.example.com',
        'v',
      );
    } finally {
      delete process.env.DATABASE_URL;
      delete process.env.GATEHOUSE_MASTER_KEY;
    }
    const names = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('=')[0])
      .filter((name) => name !== 'PWD' && name !== 'SHLVL' && name !== '_');
    expect(names.sort()).toEqual(['LANG', 'PATH']);
    expect(readFileSync(out, 'utf8')).not.toContain('db-password');
  });

  it('exec - a failing program says its exit code and a short sanitised line of stderr; a missing one says to check the path; a hung one is stopped', async () => {
    const failing = createExecProvider({
      command: script(
        'fail.sh',
        [
          'echo "+ curl -H Authorization: Bearer sk_live_0123456789abcdefABCDEF" >&2',
          `printf 'zone not found \\033[31mfor\\033[0m token=hunter2 %s\\n' "$3" >&2`,
          'exit 3',
        ].join('\n'),
      ),
      directory: dir,
    });
    const error = (await failing
      .present('_acme-challenge.a.example.com', 'txt-value-secret')
      .catch((e: Error) => e)) as Error;
    expect(error).toMatchObject({ code: 'server' });
    expect(error.message).toMatch(/exited with 3: zone not found for token=\[hidden\] \[hidden\]$/);
    expect(error.message).not.toContain('sk_live');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('\u001b');
    expect((error as Error & { cause?: unknown }).cause).toBeUndefined();
    const missing = createExecProvider({ command: join(dir, 'nope.sh'), directory: dir });
    await expect(missing.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'refused',
      message: expect.stringContaining('cannot be run (ENOENT)'),
    });
    const hung = createExecProvider({
      command: script('hang.sh', 'sleep 30'),
      directory: dir,
      timeoutMs: 300,
    });
    await expect(hung.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'timeout',
    });
    const chatty = createExecProvider({
      command: script('chatty.sh', 'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx >&2'),
      directory: dir,
      timeoutMs: 5_000,
    });
    await expect(chatty.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      message: expect.stringContaining('wrote more than'),
    });
  });

  it('exec - output summaries are one line, bounded, and hide credentials', () => {
    expect(summarizeOutput('first\nsecond line\n\n')).toBe('second line');
    expect(summarizeOutput(`${'word '.repeat(100)}`).length).toBeLessThanOrEqual(maxSummaryLength);
    expect(summarizeOutput('failed for https://user:pw@dns.example.com/api')).toBe(
      'failed for https://user:[hidden]@dns.example.com/api',
    );
    expect(summarizeOutput('password: abc')).toBe('password: [hidden]');
    expect(summarizeOutput('not found: /etc/gatehouse/dns-hooks/zones')).toBe(
      'not found: /etc/gatehouse/dns-hooks/zones',
    );
  });
});
