import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, Router } from 'express';

/** The dashboard's own files (plain ES modules, no build step): `services/api/dashboard/`. */
const dashboardDir = join(import.meta.dirname, '..', '..', 'dashboard');

/**
 * Third-party ES modules the dashboard imports by bare name, mapped by the page's import map. Served from the
 * installed packages (pinned in package.json), so the Docker image and CI need no bundler.
 */
const vendorModules: Record<string, string> = {
  'preact.mjs': fileURLToPath(import.meta.resolve('preact')),
  'preact-hooks.mjs': fileURLToPath(import.meta.resolve('preact/hooks')),
  'htm.mjs': fileURLToPath(import.meta.resolve('htm')),
};

/**
 * The Content-Security-Policy of every dashboard response: scripts only from this origin plus the one inline
 * import map (by hash), no inline styles or event handlers, `fetch` only to this origin, never framed. A
 * token in sessionStorage is only as safe as the page's scripts, so nothing else may run there.
 */
function contentSecurityPolicy(importMapHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The import map's text as it stands in index.html, for its CSP hash. */
function importMapOf(html: string): string {
  const match = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error('dashboard/index.html has no import map');
  return match[1]!;
}

/**
 * Serves the dashboard at `/`: index.html, its modules under `/assets/`, and the vendored Preact and htm under
 * `/vendor/`. It is public like any static page: it holds no data, and every call it makes goes to `/v1` with
 * the bearer token the operator typed in (kept in sessionStorage, sent as a header, never in a URL or cookie).
 */
export function dashboardRoutes(): Router {
  const html = readFileSync(join(dashboardDir, 'index.html'), 'utf8');
  const csp = contentSecurityPolicy(createHash('sha256').update(importMapOf(html)).digest('base64'));
  const securityHeaders: RequestHandler = (_request, response, next) => {
    response.setHeader('Content-Security-Policy', csp);
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('X-Frame-Options', 'DENY');
    response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    next();
  };
  const router = Router();
  router.get('/', securityHeaders, (_request, response) => {
    response.setHeader('Cache-Control', 'no-store');
    response.type('html').send(html);
  });
  router.use(
    '/assets',
    securityHeaders,
    express.static(dashboardDir, { index: false, dotfiles: 'ignore', fallthrough: true, maxAge: 0 }),
  );
  for (const [name, path] of Object.entries(vendorModules)) {
    const source = readFileSync(path, 'utf8');
    router.get(`/vendor/${name}`, securityHeaders, (_request, response) => {
      response.setHeader('Cache-Control', 'public, max-age=3600');
      response.type('text/javascript').send(source);
    });
  }
  return router;
}
