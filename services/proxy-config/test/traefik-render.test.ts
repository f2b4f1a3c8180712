import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { promisify } from 'node:util';
import { readVendoredFileDigest } from '@gatehouse/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ACME_HTTP01_PRIORITY,
  APP_FILE_PATTERN,
  type AppProxyInput,
  appFileName,
  CORE_FILE_NAME,
  PEM_FILE_PATTERN,
  pemFileNames,
  REDIRECT_TO_HTTPS_MIDDLEWARE_NAME,
  REDIRECT_TO_HTTPS_MIDDLEWARE_REF,
  removeOrphans,
  renderAppConfig,
  renderCoreConfig,
  serializeTraefikConfig,
  TemplateDelimiterError,
  type TraefikDynamicConfig,
  type TraefikRouter,
  validateTraefikConfig,
  type WwwMode,
  writeFileAtomic,
} from '../src/traefik/index.ts';

const run = promisify(execFile);

function app(overrides: Partial<AppProxyInput> = {}): AppProxyInput {
  return {
    slug: 'shop',
    upstream: { host: '127.0.0.1', port: 8080 },
    domains: [{ hostname: 'shop.test', https: true, www: 'redirect-to-apex' }],
    certificates: [{ certFile: '/certs/0123.crt', keyFile: '/certs/4567.key' }],
    ...overrides,
  };
}

function routers(config: TraefikDynamicConfig): Record<string, TraefikRouter> {
  return config.http?.routers ?? {};
}

/** The router whose rule names `host` on `entryPoint`, if any. */
function routerFor(
  config: TraefikDynamicConfig,
  host: string,
  entryPoint: string,
): TraefikRouter | undefined {
  const found = Object.values(routers(config)).filter(
    (router) => router.entryPoints.includes(entryPoint) && router.rule.includes(`Host(\`${host}\`)`),
  );
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0];
}

/** The core file the app files are merged with in Traefik's directory. */
const core = renderCoreConfig({
  http01ResponderUrl: 'http://127.0.0.1:8402',
  defaultCertificate: { certFile: '/certs/default.crt', keyFile: '/certs/default.key' },
});

/**
 * Where a router sends a request for `url`: 'serve', or the redirect target its middleware produces. A
 * `name@file` reference resolves across the directory's files (here the app's and the core file), as in Traefik.
 */
function outcome(config: TraefikDynamicConfig, router: TraefikRouter, url: string): string {
  const name = router.middlewares?.[0];
  if (name === undefined) return 'serve';
  const local = name.endsWith('@file') ? name.slice(0, -'@file'.length) : name;
  const middleware = name.endsWith('@file')
    ? (config.http?.middlewares?.[local] ?? core.http?.middlewares?.[local])
    : config.http?.middlewares?.[name];
  expect(middleware).toBeDefined();
  if (middleware && 'redirectScheme' in middleware) {
    expect(middleware.redirectScheme.permanent).toBe(true);
    return url.replace(/^http:/, `${middleware.redirectScheme.scheme}:`);
  }
  if (middleware && 'redirectRegex' in middleware) {
    expect(middleware.redirectRegex.permanent).toBe(true);
    // Go's ${n} expansion is JavaScript's $n.
    const replacement = middleware.redirectRegex.replacement.replace(/\$\{(\d+)\}/g, '$$$1');
    return url.replace(new RegExp(middleware.redirectRegex.regex), replacement);
  }
  throw new Error(`unknown middleware ${name}`);
}

function expectValid(config: unknown): void {
  expect(validateTraefikConfig(config)).toEqual({ ok: true });
}

describe('traefik rendering', () => {
  it('traefik - a rendered app config validates against the v3 schema and survives a YAML round trip', () => {
    const config = renderAppConfig(
      app({
        domains: [
          { hostname: 'shop.test', https: true, www: 'redirect-to-apex' },
          { hostname: 'blog.test', https: true, www: 'redirect-to-www' },
          { hostname: 'docs.test', https: false, www: 'both' },
          { hostname: 'plain.test', https: false, www: 'none' },
          { hostname: '*.wild.test', https: true, www: 'both' },
        ],
      }),
    );
    expectValid(config);
    const yaml = serializeTraefikConfig(config);
    expect(parse(yaml)).toEqual(config);
    expectValid(parse(yaml));
    expect(config.http?.services).toEqual({
      'app-shop': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:8080' }] } },
    });
    expect(config.tls?.certificates).toEqual([{ certFile: '/certs/0123.crt', keyFile: '/certs/4567.key' }]);
    expect(routerFor(config, 'plain.test', 'web')?.rule).toContain('Host(`docs.test`) || Host(`plain.test`)');
    expect(routers(config)['app-shop-https']?.rule).toContain('HostRegexp(`^[a-z0-9-]+\\.wild\\.test$`)');
  });

  it('traefik - the core config validates and routes ACME challenges first', () => {
    const config = renderCoreConfig({
      http01ResponderUrl: 'http://127.0.0.1:8402',
      defaultCertificate: { certFile: '/certs/default.crt', keyFile: '/certs/default.key' },
    });
    expectValid(config);
    const router = config.http?.routers?.['gatehouse-acme-http01'];
    expect(router).toMatchObject({
      entryPoints: ['web'],
      rule: 'PathPrefix(`/.well-known/acme-challenge/`)',
      service: 'gatehouse-http01',
      priority: ACME_HTTP01_PRIORITY,
    });
    // Above any rule-length default an app router on `web` could get.
    expect(ACME_HTTP01_PRIORITY).toBeGreaterThan(1_000_000);
    expect(config.http?.services?.['gatehouse-http01']?.loadBalancer.servers).toEqual([
      { url: 'http://127.0.0.1:8402' },
    ]);
    expect(config.tls?.stores?.default?.defaultCertificate).toEqual({
      certFile: '/certs/default.crt',
      keyFile: '/certs/default.key',
    });
    expect(config.tls?.options?.default?.minVersion).toBe('VersionTLS12');
    // The HTTP→HTTPS redirect is defined here once; app files reference it by its provider-qualified name.
    expect(config.http?.middlewares?.[REDIRECT_TO_HTTPS_MIDDLEWARE_NAME]).toEqual({
      redirectScheme: { scheme: 'https', permanent: true },
    });
    expect(REDIRECT_TO_HTTPS_MIDDLEWARE_REF).toBe(`${REDIRECT_TO_HTTPS_MIDDLEWARE_NAME}@file`);
  });

  it('traefik - validation is applied: broken configs fail with readable errors', () => {
    const negative = structuredClone(renderAppConfig(app())) as TraefikDynamicConfig;
    routers(negative)['app-shop-https']!.priority = -1;
    const result = validateTraefikConfig(negative);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toContain('/http/routers/app-shop-https/priority must be >= 0');

    const unknownField = validateTraefikConfig({ http: { routers: {} }, tls: { certificate: [] } });
    expect(unknownField.ok).toBe(false);
    expect(!unknownField.ok && unknownField.errors.join('\n')).toMatch(
      /^\/tls must NOT have additional properties \('certificate'\)$/m,
    );

    const wrongType = validateTraefikConfig({
      http: { services: { s: { loadBalancer: { servers: 'x' } } } },
    });
    expect(wrongType.ok).toBe(false);
    // Only the real cause and the oneOf verdict; the other branches' additionalProperties noise is filtered out.
    expect(!wrongType.ok && wrongType.errors).toEqual([
      '/http/services/s/loadBalancer/servers must be array',
      '/http/services/s must match exactly one schema in oneOf',
    ]);
  });

  const wwwCases: Array<{ mode: WwwMode; serve: string[]; redirect: Record<string, string> }> = [
    { mode: 'none', serve: ['shop.test'], redirect: {} },
    { mode: 'redirect-to-apex', serve: ['shop.test'], redirect: { 'www.shop.test': 'shop.test' } },
    { mode: 'redirect-to-www', serve: ['www.shop.test'], redirect: { 'shop.test': 'www.shop.test' } },
    { mode: 'both', serve: ['shop.test', 'www.shop.test'], redirect: {} },
  ];
  for (const { mode, serve, redirect } of wwwCases) {
    for (const https of [true, false]) {
      it(`traefik - www mode ${mode} over ${https ? 'https' : 'http'} serves and redirects the right hosts`, () => {
        // The same result whether the domain is given as the apex or as its www name.
        const hostnames = mode === 'none' ? ['shop.test'] : ['shop.test', 'www.shop.test'];
        for (const hostname of hostnames) {
          const config = renderAppConfig(app({ domains: [{ hostname, https, www: mode }] }));
          expectValid(config);
          const scheme = https ? 'https' : 'http';
          const entryPoint = https ? 'websecure' : 'web';
          for (const host of serve) {
            const router = routerFor(config, host, entryPoint);
            expect(router?.service).toBe('app-shop');
            expect(outcome(config, router!, `${scheme}://${host}/a?b=1`)).toBe('serve');
            if (https) expect(router?.tls).toEqual({});
          }
          for (const [source, target] of Object.entries(redirect)) {
            // A redirect source answers on the TLS entry point with TLS (so the certificate must cover it).
            const router = routerFor(config, source, entryPoint);
            expect(router).toBeDefined();
            if (https) expect(router?.tls).toEqual({});
            expect(outcome(config, router!, `${scheme}://${source}/a?b=1`)).toBe(
              `${scheme}://${target}/a?b=1`,
            );
          }
          const everyHost = [...serve, ...Object.keys(redirect)];
          const routed = Object.values(routers(config)).flatMap((router) =>
            [...router.rule.matchAll(/Host\(`([^`]+)`\)/g)].map((match) => match[1]),
          );
          expect(new Set(routed)).toEqual(new Set(everyHost));
          if (!https) {
            // No TLS anywhere for a plain-http domain.
            expect(Object.values(routers(config)).every((router) => router.tls === undefined)).toBe(true);
          }
        }
      });
    }
  }

  it('traefik - https domains redirect http to https on port 80, http domains are served there', () => {
    const config = renderAppConfig(
      app({
        domains: [
          { hostname: 'shop.test', https: true, www: 'redirect-to-www' },
          { hostname: 'plain.test', https: false, www: 'none' },
        ],
      }),
    );
    expectValid(config);
    for (const host of ['shop.test', 'www.shop.test']) {
      const router = routerFor(config, host, 'web');
      expect(router).toBeDefined();
      expect(outcome(config, router!, `http://${host}/p?q`)).toBe(`https://${host}/p?q`);
    }
    // The app file defines no scheme redirect of its own: it references the core file's one.
    expect(routerFor(config, 'shop.test', 'web')?.middlewares).toEqual([REDIRECT_TO_HTTPS_MIDDLEWARE_REF]);
    expect(
      Object.values(config.http?.middlewares ?? {}).some((middleware) => 'redirectScheme' in middleware),
    ).toBe(false);
    const plain = routerFor(config, 'plain.test', 'web');
    expect(plain?.middlewares).toBeUndefined();
    expect(routerFor(config, 'plain.test', 'websecure')).toBeUndefined();
    // Nothing in an app file outranks the core's challenge router, and no priority is negative.
    for (const router of Object.values(routers(config)))
      expect(router.priority ?? 0).toBeGreaterThanOrEqual(0);
  });

  it('traefik - serialization is byte-identical across runs, key orders and domain orders', () => {
    const domains = [
      { hostname: 'a.test', https: true, www: 'both' as const },
      { hostname: 'b.test', https: false, www: 'redirect-to-www' as const },
    ];
    const first = serializeTraefikConfig(renderAppConfig(app({ domains })));
    expect(serializeTraefikConfig(renderAppConfig(app({ domains })))).toBe(first);
    expect(serializeTraefikConfig(renderAppConfig(app({ domains: [...domains].reverse() })))).toBe(first);

    const reverseKeys = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reverseKeys)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([key, item]) => [key, reverseKeys(item)]),
            )
          : value;
    const config = renderAppConfig(app({ domains }));
    const reversed = reverseKeys(config) as object;
    expect(Object.keys(reversed)).not.toEqual(Object.keys(config));
    expect(serializeTraefikConfig(reversed)).toBe(first);
    // Keys come out sorted.
    expect(first.indexOf('http:')).toBeLessThan(first.indexOf('tls:'));
    expect(first.indexOf('middlewares:')).toBeLessThan(first.indexOf('routers:'));
  });

  it("traefik - a literal '{{' is refused, naming where it is", () => {
    const config = renderAppConfig(
      app({ certificates: [{ certFile: '/certs/{{ env "HOME" }}.crt', keyFile: '/certs/k.key' }] }),
    );
    expect(() => serializeTraefikConfig(config)).toThrow(TemplateDelimiterError);
    expect(() => serializeTraefikConfig(config)).toThrow(
      /at \/tls\/certificates\/0\/certFile: "\/certs\/\{\{ env/,
    );
    expect(() => serializeTraefikConfig({ http: { routers: { 'a{{b': {} } } })).toThrow(
      TemplateDelimiterError,
    );
    // A single brace (Go regexp expansion) is fine.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Traefik value, not a JS template
    expect(serializeTraefikConfig({ a: '${1}' })).toContain('${1}');
  });

  it('traefik - names come from one builder and host names that could break a rule are refused', () => {
    expect(appFileName('shop')).toBe('app-shop.yml');
    expect(APP_FILE_PATTERN.test(appFileName('shop-2'))).toBe(true);
    expect(APP_FILE_PATTERN.test(CORE_FILE_NAME)).toBe(false);
    const names = pemFileNames('cert', 'key');
    expect(names.certFile).toMatch(PEM_FILE_PATTERN);
    expect(names.keyFile).toMatch(PEM_FILE_PATTERN);
    expect(pemFileNames('cert2', 'key').certFile).not.toBe(names.certFile);
    expect(() => appFileName('Shop/../x')).toThrow(/slug/);
    expect(() =>
      renderAppConfig(app({ domains: [{ hostname: 'a`) || Host(`b', https: true, www: 'none' }] })),
    ).toThrow(/host name/);
  });
});

describe('traefik file writing', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-traefik-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('traefik - atomic write leaves no temp file, sets key mode 0600 and replaces by rename', async () => {
    expect(await writeFileAtomic(dir, 'app-shop.yml', 'a: 1\n')).toBe('written');
    expect(await writeFileAtomic(dir, 'k.key', 'secret', { mode: 0o600 })).toBe('written');
    expect((await stat(join(dir, 'k.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'app-shop.yml'))).mode & 0o777).toBe(0o644);
    const before = await stat(join(dir, 'app-shop.yml'));
    expect(await writeFileAtomic(dir, 'app-shop.yml', 'a: 2\n')).toBe('written');
    const after = await stat(join(dir, 'app-shop.yml'));
    expect(await readFile(join(dir, 'app-shop.yml'), 'utf8')).toBe('a: 2\n');
    // A new inode: the file was renamed into place, never rewritten in place where Traefik could read half.
    expect(after.ino).not.toBe(before.ino);
    expect((await readdir(dir)).sort()).toEqual(['app-shop.yml', 'k.key']);
  });

  it('traefik - atomic write skips identical content and leaves the mtime alone', async () => {
    await writeFileAtomic(dir, 'app-shop.yml', 'a: 1\n');
    const past = new Date('2020-01-01T00:00:00Z');
    await utimes(join(dir, 'app-shop.yml'), past, past);
    const before = await stat(join(dir, 'app-shop.yml'));
    expect(await writeFileAtomic(dir, 'app-shop.yml', 'a: 1\n')).toBe('unchanged');
    const after = await stat(join(dir, 'app-shop.yml'));
    expect(after.mtimeMs).toBe(past.getTime());
    expect(after.ino).toBe(before.ino);
  });

  it('traefik - a failed write removes its temp file and keeps the old target', async () => {
    // A directory where the file should go makes the rename fail after the temp file was written.
    await mkdir(join(dir, 'app-shop.yml'));
    await writeFile(join(dir, 'app-shop.yml', 'inside'), 'x');
    await expect(writeFileAtomic(dir, 'app-shop.yml', 'a: 1\n')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['app-shop.yml']);
    expect(await readFile(join(dir, 'app-shop.yml', 'inside'), 'utf8')).toBe('x');
  });

  it('traefik - orphans are removed and nothing else is touched', async () => {
    const files = [
      'app-shop.yml',
      'app-gone.yml',
      CORE_FILE_NAME,
      'operator-notes.yml',
      'README.txt',
      `${'a'.repeat(32)}.crt`,
      `${'b'.repeat(32)}.key`,
      'custom.crt',
    ];
    for (const name of files) await writeFile(join(dir, name), name);
    await mkdir(join(dir, 'app-dir.yml'));
    expect(await removeOrphans(dir, new Set(['app-shop.yml']), APP_FILE_PATTERN)).toEqual(['app-gone.yml']);
    expect(await removeOrphans(dir, new Set([`${'a'.repeat(32)}.crt`]), PEM_FILE_PATTERN)).toEqual([
      `${'b'.repeat(32)}.key`,
    ]);
    expect((await readdir(dir)).sort()).toEqual(
      [
        'app-shop.yml',
        CORE_FILE_NAME,
        'operator-notes.yml',
        'README.txt',
        `${'a'.repeat(32)}.crt`,
        'custom.crt',
        'app-dir.yml',
      ].sort(),
    );
  });

  it('traefik - a rendered certificate entry serves a TLS handshake for its host name', async () => {
    const work = join(dir, 'openssl');
    await mkdir(work);
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=shop.test',
      '-addext',
      'subjectAltName=DNS:shop.test,DNS:www.shop.test',
      '-keyout',
      join(work, 'key.pem'),
      '-out',
      join(work, 'cert.pem'),
    ]);
    const certPem = await readFile(join(work, 'cert.pem'), 'utf8');
    const keyPem = await readFile(join(work, 'key.pem'), 'utf8');

    const certsDir = join(dir, 'certs');
    await mkdir(certsDir);
    const names = pemFileNames(certPem, keyPem);
    expect(await writeFileAtomic(certsDir, names.certFile, certPem)).toBe('written');
    expect(await writeFileAtomic(certsDir, names.keyFile, keyPem, { mode: 0o600 })).toBe('written');
    expect((await stat(join(certsDir, names.keyFile))).mode & 0o777).toBe(0o600);

    const config = renderAppConfig(
      app({
        domains: [{ hostname: 'shop.test', https: true, www: 'redirect-to-apex' }],
        certificates: [{ certFile: join(certsDir, names.certFile), keyFile: join(certsDir, names.keyFile) }],
      }),
    );
    expectValid(config);
    // Read the paths back from what would be written, not from the variables above.
    const written = parse(serializeTraefikConfig(config)) as TraefikDynamicConfig;
    const entry = written.tls?.certificates?.[0];
    expect(entry).toBeDefined();

    const server = createServer(
      { cert: await readFile(entry!.certFile), key: await readFile(entry!.keyFile) },
      (socket) => socket.end('ok'),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      for (const servername of ['shop.test', 'www.shop.test']) {
        const socket = connect({ host: '127.0.0.1', port, servername, ca: [certPem] });
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        expect(socket.getPeerCertificate().subjectaltname).toContain(`DNS:${servername}`);
        socket.destroy();
      }
      // Trust is real: a name the certificate does not cover is refused.
      const wrong = connect({ host: '127.0.0.1', port, servername: 'other.test', ca: [certPem] });
      const [error] = (await once(wrong, 'error')) as [NodeJS.ErrnoException];
      expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
    }
  });
});

describe('traefik schema copy', () => {
  // The service validates against its vendored copy; SOURCE.md beside it records where it came from and its sha256.
  it('proxy-config - the vendored Traefik v3 schema is the upstream file its SOURCE.md records', async () => {
    const { TRAEFIK_SCHEMA_PATH } = await import('../src/traefik/validate.ts');
    const { recorded, actual } = await readVendoredFileDigest(TRAEFIK_SCHEMA_PATH);
    expect(actual).toBe(recorded);
  });
});
