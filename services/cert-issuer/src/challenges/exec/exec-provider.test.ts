import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExecProvider } from './exec-provider.ts';

const dir = mkdtempSync(join(tmpdir(), 'exec-provider-'));
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('exec provider', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exec - runs `<command> present|cleanup <fqdn.> <value>` without a shell', async () => {
    const log = join(dir, 'calls.log');
    const command = script('record.sh', `printf '%s|%s|%s\\n' "$1" "$2" "$3" >> ${log}`);
    const provider = createExecProvider({ command });
    await provider.present('_acme-challenge.a.example.com', 'v; rm -rf /');
    await provider.cleanup('_acme-challenge.a.example.com', 'v; rm -rf /');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'present|_acme-challenge.a.example.com.|v; rm -rf /',
      'cleanup|_acme-challenge.a.example.com.|v; rm -rf /',
    ]);
  });

  it('exec - a failing program says its exit code and stderr; a missing one says to check the path; a hung one is stopped', async () => {
    const failing = createExecProvider({ command: script('fail.sh', 'echo "zone not found" >&2; exit 3') });
    await expect(failing.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      message: expect.stringMatching(/exited with 3: zone not found/),
    });
    const missing = createExecProvider({ command: join(dir, 'nope.sh') });
    await expect(missing.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'refused',
      message: expect.stringContaining('cannot be run (ENOENT)'),
    });
    const hung = createExecProvider({ command: script('hang.sh', 'sleep 30'), timeoutMs: 300 });
    await expect(hung.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'timeout',
    });
  });
});
