import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api dashboard files', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_dashboard');
  });
  afterAll(() => api.close());

  it('dashboard - / is the page with a strict CSP that allows exactly its import map', async () => {
    const response = await fetch(`${api.base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const hash = createHash('sha256').update(importMap).digest('base64');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    // Every module the import map names is served as JavaScript.
    for (const path of Object.values(JSON.parse(importMap).imports as Record<string, string>)) {
      const module = await fetch(`${api.base}${path}`);
      expect(module.status, path).toBe(200);
      expect(module.headers.get('content-type'), path).toContain('javascript');
    }
  });

  it('dashboard - its modules are served, nothing outside its folder is', async () => {
    const app = await fetch(`${api.base}/assets/app.js`);
    expect(app.status).toBe(200);
    expect(app.headers.get('content-type')).toContain('javascript');
    expect(await app.text()).toContain('render(');
    for (const path of ['/assets/../src/config.ts', '/assets/%2e%2e/package.json', '/assets/nothing.js']) {
      const response = await fetch(`${api.base}${path}`);
      expect(response.status, path).toBe(404);
    }
    // The API itself still wants its token.
    expect((await fetch(`${api.base}/v1/apps`)).status).toBe(401);
  });
});
