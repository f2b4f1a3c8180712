import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@gatehouse/service-harness';
import { buildTcpProxyStandInImage, challtestsrv, freePort, makeCertificateChain } from '@gatehouse/testing';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from './stack.ts';

/** Debian's chromium (scripts/bootstrap installs it); the tests drive it with playwright-core over CDP. */
const chromiumPath = '/usr/bin/chromium';
/** Screenshots of each step, for people (gitignored). */
const screenshots = join(repoRoot, 'test-output', 'dashboard');
const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const suffix = Math.random().toString(36).slice(2, 8);
const webHost = `web-${suffix}.test`;
const brokenHost = `broken-${suffix}.test`;

describe('dashboard in headless Chromium', { timeout: 240_000 }, () => {
  let stack: TestStack;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  /** The directory the TCP proxies (the stand-in for Traefik) serve and mount. */
  let tcpProxyDir: string;
  const requestedUrls: string[] = [];
  const consoleProblems: string[] = [];

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${stack.apiToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, never> };
  }

  async function shot(name: string) {
    await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    // A missing browser is a failure to fix (scripts/bootstrap installs it), never a skipped test.
    if (!existsSync(chromiumPath)) {
      throw new Error(`${chromiumPath} is missing: run scripts/bootstrap (apt-get install -y chromium)`);
    }
    mkdirSync(screenshots, { recursive: true });
    await challtestsrv.setServfail(brokenHost);
    // TCP proxies run from the stand-in for Traefik's image (no registry here; see test/tcp-proxy.test.ts).
    const tcpProxyImage = await buildTcpProxyStandInImage(testImage);
    tcpProxyDir = mkdtempSync(join(tmpdir(), 'gh-dash-tcp-'));
    stack = await startStack({
      label: `dash-${suffix}`,
      env: {
        deployer: {
          TCP_PROXY_IMAGE: tcpProxyImage,
          TCP_PROXY_DYNAMIC_DIR: tcpProxyDir,
          TCP_PROXY_CERTS_DIR: tcpProxyDir,
          TCP_PROXY_CERTS_PATH: tcpProxyDir,
        },
      },
    });
    userDataDir = mkdtempSync(join(tmpdir(), 'gh-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => requestedUrls.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleProblems.push(message.text());
    });
    page.on('pageerror', (error) => consoleProblems.push(error.message));
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    if (tcpProxyDir) rmSync(tcpProxyDir, { recursive: true, force: true });
    await challtestsrv.clearServfail(brokenHost).catch(() => {});
    await stack?.stop();
  });

  it('dashboard - a wrong token is refused and nothing is stored; the right one logs in', async () => {
    const response = await page.goto(`${stack.apiUrl}/`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self' 'sha256-");
    await page.fill('input[name=token]', 'w'.repeat(44));
    await page.click('button[type=submit]');
    await page.getByText('The token was refused').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('gatehouse.token'))).toBeNull();
    await shot('01-login-refused');

    await page.fill('input[name=token]', stack.apiToken);
    await page.click('button[type=submit]');
    await page.locator('table[data-testid=certificates]').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('gatehouse.token'))).toBe(stack.apiToken);
    expect(
      await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
    ).toBe('');
  });

  it('dashboard - an app created in the form against Pebble turns valid in the table without a reload', async () => {
    await page.goto(`${stack.apiUrl}/#/apps`);
    const appPort = await freePort();
    const form = page.locator('form[data-testid=create-app]');
    await form.locator('input[name=name]').fill('web');
    await form.locator('input[name=image]').fill(testImage);
    await form.locator('input[name=port]').fill(String(appPort));
    await form.locator('textarea[name=domains]').fill(`https://${webHost}`);
    await form.locator('select[name=challenge]').selectOption('http-01');
    await form
      .locator('input[name=command]')
      .fill(`mkdir -p /www && echo hi > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${appPort}`);
    // A TCP port not of the form PUBLIC[:TARGET][/tls] is refused in the page, before any request.
    await form.locator('input[name=tcp]').fill('5433:tls');
    await form.locator('button[type=submit]').click();
    await page.getByText('TCP ports: give PUBLIC[:TARGET][/tls]').waitFor();
    const formTcpPort = await freePort();
    await form.locator('input[name=tcp]').fill(`${formTcpPort}/tls`);
    await form.locator('button[type=submit]').click();
    await page.getByText('201 Created app web.').waitFor();
    expect((await api('GET', '/v1/apps/web')).body.tcp).toMatchObject([
      { publicPort: formTcpPort, targetPort: null, tls: true },
    ]);
    await page.locator('tr[data-name=web]').waitFor();
    await shot('02-app-created');

    await page.click('a[href="#/certificates"]');
    // A marker on window: a reload would drop it.
    await page.evaluate(() => {
      (globalThis as unknown as { marker: string }).marker = 'still here';
    });
    const row = page.locator('table[data-testid=certificates] tr', { hasText: webHost });
    await row.waitFor();
    await page
      .locator(`table[data-testid=certificates] tr[data-status=valid]:has-text("${webHost}")`)
      .waitFor({
        timeout: 180_000,
      });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe(
      'still here',
    );
    await expect(row.locator('[data-testid=next-renewal]').textContent()).resolves.toContain('lifetime');
    await shot('03-certificate-valid');

    await page.click('a[href="#/apps"]');
    await page.locator('tr[data-name=web] .badge.running').waitFor({ timeout: 60_000 });
  });

  it("dashboard - an app's TCP ports show on the apps page with the proxy's state: running, or failed because the port is held on the host, until it frees", async () => {
    const [tlsPort, heldPort] = [await freePort(), await freePort()];
    // Another process on the host holds one public port.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(heldPort, '127.0.0.1', resolve));
    try {
      const patched = await api('PATCH', '/v1/apps/web', {
        tcp: [
          { publicPort: tlsPort, tls: true },
          { publicPort: heldPort, targetPort: 6379 },
        ],
      });
      expect(patched.status).toBe(200);
      const appPort = (patched.body as unknown as { port: number }).port;
      await page.goto(`${stack.apiUrl}/#/apps`);
      const cell = page.locator('tr[data-name=web] [data-testid=tcp]');
      await cell
        .locator(`[data-port="${tlsPort}"][data-status=running] .badge.running`)
        .waitFor({ timeout: 60_000 });
      expect(
        (await cell.locator(`[data-port="${tlsPort}"]`).textContent())?.replace(/\s+/g, ' ').trim(),
      ).toBe(`${tlsPort} → ${appPort} TLS running`);
      const heldEntry = cell.locator(`[data-port="${heldPort}"]`);
      await heldEntry.locator('.badge.failed').waitFor({ timeout: 60_000 });
      expect((await heldEntry.textContent())?.replace(/\s+/g, ' ').trim()).toContain(
        `${heldPort} → 6379 plain failed`,
      );
      await expect(heldEntry.locator('[data-testid=tcp-error]').textContent()).resolves.toBe(
        `port ${heldPort} is in use on the host by another process; the proxy is retried and serves the port once it is free`,
      );
      await expect(page.locator('table[data-testid=apps] thead').textContent()).resolves.toContain(
        'TCP ports',
      );
      await shot('03b-app-tcp-port-failed');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
    // Freed: the deployer's retries bind it and the page follows without a reload.
    const heldEntry = page.locator(`tr[data-name=web] [data-testid=tcp] [data-port="${heldPort}"]`);
    await heldEntry.locator('.badge.running').waitFor({ timeout: 150_000 });
    await expect(heldEntry.locator('[data-testid=tcp-error]').count()).resolves.toBe(0);
    await shot('03c-app-tcp-port-recovered');
  });

  it('dashboard - the why-page of a failing certificate shows the preflight reason and the plain-words hint', async () => {
    const created = await api('POST', '/v1/apps', {
      name: 'broken',
      image: testImage,
      port: await freePort(),
      domains: [{ url: `https://${brokenHost}`, challenge: 'http-01' }],
    });
    expect(created.status).toBe(201);
    const id = (created.body.certificates as unknown as Array<{ id: string }>)[0]!.id;
    await page.goto(`${stack.apiUrl}/#/certificates/${id}`);
    const preflight = page.locator('table[data-testid=preflight]');
    await preflight.locator('tr', { hasText: 'dns' }).locator('.badge.fail').waitFor({ timeout: 60_000 });
    await expect(preflight.textContent()).resolves.toContain(brokenHost);
    const why = page.locator('[data-testid=why]');
    await expect(why.textContent()).resolves.toContain("Gatehouse's own checks found a problem");
    await expect(why.textContent()).resolves.toContain('preflight');
    await expect(page.locator('[data-testid=next-renewal]').textContent()).resolves.toMatch(/retry/);
    await expect(page.locator('[data-testid=job]').textContent()).resolves.toMatch(
      /^new, (deferred|running|queued)/,
    );
    await shot('04-why-no-certificate');
  });

  it('dashboard - renew now answers 202 on the certificate page', async () => {
    const web = await api('GET', '/v1/apps/web');
    const id = (web.body.certificates as unknown as Array<{ id: string }>)[0]!.id;
    await page.goto(`${stack.apiUrl}/#/certificates/${id}`);
    await page.locator('button[data-testid=renew]').click();
    await page.getByText('202 Accepted: renewal requested').waitFor();
    await shot('05-renew-202');
  });

  it('dashboard - the certificate of a deleted app says it is not renewed, and offers no renew', async () => {
    const created = await api('POST', '/v1/apps', {
      name: 'gone',
      image: testImage,
      port: await freePort(),
      domains: [`https://gone-${suffix}.test`],
    });
    expect(created.status).toBe(201);
    const id = (created.body.certificates as unknown as Array<{ id: string }>)[0]!.id;
    expect((await api('DELETE', '/v1/apps/gone')).status).toBe(202);
    await page.goto(`${stack.apiUrl}/#/certificates/${id}`);
    const next = page.locator('[data-testid=next-renewal]');
    await next.getByText('released').waitFor();
    await expect(next.textContent()).resolves.toContain('no app uses it since');
    await expect(page.locator('button[data-testid=renew]').isDisabled()).resolves.toBe(true);
    await shot('05b-released-certificate');
  });

  it('dashboard - a custom certificate uploaded in the form is stored (201) and listed', async () => {
    const chain = makeCertificateChain([`*.up-${suffix}.test`]);
    await page.goto(`${stack.apiUrl}/#/upload`);
    const form = page.locator('form[data-testid=upload]');
    await form.locator('textarea[name=certificate]').fill(chain.leaf);
    await form.locator('textarea[name=chain]').fill(chain.intermediate);
    await form.locator('textarea[name=privateKey]').fill(chain.key);
    await form.locator('button[type=submit]').click();
    await page.getByText(`201 Created: *.up-${suffix}.test`).waitFor();
    await shot('06-upload-201');
    const listed = await api('GET', `/v1/certificates?q=up-${suffix}`);
    expect((listed.body.certificates as unknown as Array<{ source: string }>).map((c) => c.source)).toEqual([
      'custom',
    ]);
  });

  it('dashboard - renew refused by a spent CA budget shows 429 with the time of the next slot', async () => {
    const broken = await api('GET', '/v1/apps/broken');
    const id = (broken.body.certificates as unknown as Array<{ id: string }>)[0]!.id;
    // The duplicate-certificate budget of this name set is spent (5 in the last 7 days).
    const spentAt = new Date(Date.now() - 86_400_000);
    await stack.database.db
      .insertInto('rate_limit_events')
      .values(
        Array.from({ length: 5 }, () => ({
          limit_name: 'duplicate-certificates',
          scope: `${stack.pebble.directoryUrl}|${brokenHost}`,
          occurred_at: spentAt,
        })),
      )
      .execute();
    await page.goto(`${stack.apiUrl}/#/certificates/${id}`);
    await page.locator('[data-testid=rate-limit]', { hasText: 'spent until' }).waitFor();
    await page.locator('button[data-testid=renew]').click();
    const notice = page.locator('[data-testid=notice]', { hasText: '429' });
    await notice.waitFor();
    const nextSlot = new Date(spentAt.getTime() + 7 * 86_400_000)
      .toISOString()
      .slice(0, 19)
      .replace('T', ' ');
    await expect(notice.textContent()).resolves.toContain(`Next slot: ${nextSlot} UTC`);
    await shot('06b-renew-429');
    await page.goto(`${stack.apiUrl}/#/rate-limits`);
    await page.locator('table[data-testid=rate-limits] tr', { hasText: brokenHost }).waitFor();
    await expect(
      page.locator('table[data-testid=rate-limits] tr', { hasText: brokenHost }).textContent(),
    ).resolves.toContain('5 / 5');
  });

  it('dashboard - settings: admin e-mails, the fallback wildcard, a DNS provider whose secret shows masked', async () => {
    await page.goto(`${stack.apiUrl}/#/settings`);
    const emails = page.locator('form[data-testid=admin-emails]');
    await emails.locator('textarea[name=emails]').fill('ops@example.test\noncall@example.test');
    await emails.locator('button[type=submit]').click();
    await page.getByText('Saved.').waitFor();
    const fallback = page.locator('form[data-testid=fallback]');
    await fallback.locator('select[name=certificateId] option', { hasText: `*.up-${suffix}.test` }).waitFor({
      state: 'attached',
    });
    await fallback.locator('button[type=submit]').click();
    await fallback.locator('a.mono').waitFor();
    const settings = await api('GET', '/v1/settings');
    expect(settings.body).toMatchObject({
      adminEmails: ['ops@example.test', 'oncall@example.test'],
      fallbackCertificateId: expect.any(String),
    });
    await shot('07-settings');

    const secret = 'c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cy0xMjM0NTY3OA==';
    await page.goto(`${stack.apiUrl}/#/dns-providers`);
    const form = page.locator('form[data-testid=add-dns-provider]');
    await form.locator('input[name=zone]').fill(`dns-${suffix}.test`);
    await form.locator('textarea[name=config]').fill(
      JSON.stringify({
        server: '127.0.0.1:5353',
        keyName: 'acme-key',
        keyAlgorithm: 'hmac-sha256',
        keySecret: secret,
      }),
    );
    await form.locator('button[type=submit]').click();
    const row = page.locator('table[data-testid=dns-providers] tr', { hasText: `dns-${suffix}.test` });
    await row.waitFor();
    const shown = (await row.textContent()) ?? '';
    expect(shown).toContain(`****${secret.slice(-4)}`);
    expect(shown).not.toContain(secret);
    expect(await page.content()).not.toContain(secret.slice(0, 20));
    await shot('08-dns-providers');
  });

  it('dashboard - the token never appears in a URL or a log line, and the CSP held', async () => {
    await page.goto(`${stack.apiUrl}/#/rate-limits`);
    await page.locator('table[data-testid=rate-limits], p:has-text("No budget in use")').first().waitFor();
    await shot('09-rate-limits');
    expect(requestedUrls.length).toBeGreaterThan(10);
    for (const url of requestedUrls) {
      expect(url).not.toContain(stack.apiToken);
      expect(url).not.toContain(encodeURIComponent(stack.apiToken));
    }
    for (const { name, process } of stack.processes) {
      expect(process.output(), name).not.toContain(stack.apiToken);
    }
    expect(consoleProblems.filter((text) => /Content Security Policy|Refused to/.test(text))).toEqual([]);
  });
});
