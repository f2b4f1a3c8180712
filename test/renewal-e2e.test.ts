import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tlsHandshake, waitFor } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startStack, type TestStack } from './stack.ts';

const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const suffix = Math.random().toString(36).slice(2, 8);
const host = `renew-${suffix}.test`;
const appName = `renew-${suffix}`;

interface TraefikFile {
  tls?: { certificates?: Array<{ certFile: string; keyFile: string }> };
}

/** What Traefik would serve for `host` right now, read the way it reads it: the YAML, then the files. */
function servedCertificate(
  root: string,
): { serial: string; validTo: number; validFrom: number; san: string } | string {
  const path = join(root, 'dynamic', `app-${appName}.yml`);
  if (!existsSync(path)) return 'no app file';
  const entries = (parse(readFileSync(path, 'utf8')) as TraefikFile).tls?.certificates ?? [];
  if (entries.length !== 1) return `${entries.length} certificate entries`;
  const { certFile, keyFile } = entries[0]!;
  if (!existsSync(certFile) || !existsSync(keyFile)) return `a referenced file is missing (${certFile})`;
  const leaf = new X509Certificate(readFileSync(certFile));
  return {
    serial: leaf.serialNumber,
    validFrom: Date.parse(leaf.validFrom),
    validTo: Date.parse(leaf.validTo),
    san: leaf.subjectAltName ?? '',
  };
}

// Issue 5's first acceptance: a 120 s certificate renewed by the scheduler with nobody looking, the Traefik
// files switched to the new one, and at no moment (sampled every 50 ms) a file set without a valid one.
describe('renewal e2e', { timeout: 300_000 }, () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({
      label: `test-renewal-${suffix}`,
      // Each service as its own Postgres role, as in compose: renewal as least privilege.
      dbRoles: true,
      pebble: { certificateValiditySeconds: 120, nonceRejectPercent: 0 },
      env: { 'renewal-scheduler': { RENEWAL_TICK_SECONDS: '1' } },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('renewal e2e - a 120 s certificate is renewed before it expires and the Traefik files switch with no moment without a valid one', async () => {
    const appPort = await freePort();
    const response = await fetch(`${stack.apiUrl}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: appName,
        image: testImage,
        port: appPort,
        domains: [`https://${host}`],
        command: ['sh', '-c', `mkdir -p /www && exec httpd -f -h /www -p 127.0.0.1:${appPort}`],
      }),
    });
    expect(response.status, await response.clone().text()).toBe(201);

    const first = await waitFor(
      'the first certificate in the Traefik files',
      () => {
        const served = servedCertificate(stack.root);
        return typeof served !== 'string' && served;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );

    const problems: string[] = [];
    const serials = new Set<string>([first.serial]);
    let samples = 0;
    let switchedAt = 0;
    // Sample until a second certificate has been served for a few seconds (or the first one would expire).
    while (Date.now() < first.validTo + 5_000) {
      const now = Date.now();
      const served = servedCertificate(stack.root);
      samples++;
      if (typeof served === 'string') problems.push(`${new Date(now).toISOString()}: ${served}`);
      else {
        if (now < served.validFrom || now >= served.validTo)
          problems.push(`${new Date(now).toISOString()}: serial ${served.serial} not valid now`);
        if (!served.san.includes(`DNS:${host}`))
          problems.push(`serial ${served.serial} does not name ${host}`);
        if (!serials.has(served.serial)) {
          serials.add(served.serial);
          switchedAt = now;
        }
      }
      if (switchedAt && now > switchedAt + 3_000) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(problems).toEqual([]);
    expect(serials.size).toBeGreaterThanOrEqual(2);
    expect(switchedAt).toBeLessThan(first.validTo);
    console.log(
      `renewal e2e: switched ${Math.round((first.validTo - switchedAt) / 1000)} s before expiry, ${samples} samples, all valid`,
    );

    // The renewed files serve a handshake that verifies against Pebble's root.
    const entry = (
      parse(readFileSync(join(stack.root, 'dynamic', `app-${appName}.yml`), 'utf8')) as TraefikFile
    ).tls!.certificates![0]!;
    const { authorized } = await tlsHandshake(entry, host, await stack.pebble.rootPem());
    expect(authorized).toBe(true);
    const row = await stack.database.db
      .selectFrom('certificates')
      .select(['status', 'renew_reason'])
      .where('names_key', '=', host)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('valid');
    for (const { name, process } of stack.processes) {
      expect(process.output(), name).not.toMatch(/permission denied|42501/);
    }
  });
});
