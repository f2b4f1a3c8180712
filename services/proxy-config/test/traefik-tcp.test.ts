import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type AppProxyInput,
  renderAppConfig,
  serializeTraefikConfig,
  validateTraefikConfig,
} from '../src/traefik/index.ts';

function app(overrides: Partial<AppProxyInput> = {}): AppProxyInput {
  return {
    slug: 'pg',
    upstream: { host: '127.0.0.1', port: 5432 },
    domains: [{ hostname: 'db.test', https: true, www: 'none' }],
    certificates: [{ certFile: '/certs/0123.crt', keyFile: '/certs/4567.key' }],
    tcp: [
      { publicPort: 15432, targetPort: null, tls: true },
      { publicPort: 15433, targetPort: 6543, tls: false },
    ],
    ...overrides,
  };
}

describe('traefik tcp routers', () => {
  it('traefik tcp - a TLS port gets HostSNI on the app names with termination, a plain one HostSNI(*), each on its own entry point', () => {
    const config = renderAppConfig(app());
    expect(config.tcp).toEqual({
      routers: {
        'app-pg-tcp-15432': {
          entryPoints: ['tcp-15432'],
          rule: 'HostSNI(`db.test`)',
          service: 'app-pg-tcp-15432',
          tls: {},
        },
        'app-pg-tcp-15433': {
          entryPoints: ['tcp-15433'],
          rule: 'HostSNI(`*`)',
          service: 'app-pg-tcp-15433',
        },
      },
      services: {
        'app-pg-tcp-15432': { loadBalancer: { servers: [{ address: '127.0.0.1:5432' }] } },
        'app-pg-tcp-15433': { loadBalancer: { servers: [{ address: '127.0.0.1:6543' }] } },
      },
    });
    // The certificate the TLS router terminates with is listed in the same file (the store Traefik picks from).
    expect(config.tls?.certificates).toEqual([{ certFile: '/certs/0123.crt', keyFile: '/certs/4567.key' }]);
    expect(validateTraefikConfig(config)).toEqual({ ok: true });
    // What lands on disk parses back to the same object and still validates.
    const onDisk = parse(serializeTraefikConfig(config));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(config)));
    expect(validateTraefikConfig(onDisk)).toEqual({ ok: true });
  });

  it('traefik tcp - every TLS name of the app is an SNI (www counterpart, wildcard as HostSNIRegexp); the container host is kept', () => {
    const config = renderAppConfig(
      app({
        upstream: { host: 'gatehouse-app-pg-r3', port: 5432 },
        domains: [
          { hostname: 'db.test', https: true, www: 'redirect-to-apex' },
          { hostname: '*.pg.test', https: true, www: 'none' },
          { hostname: 'plain.test', https: false, www: 'none' },
        ],
        tcp: [{ publicPort: 15432, targetPort: null, tls: true }],
      }),
    );
    const router = config.tcp!.routers!['app-pg-tcp-15432']!;
    expect(router.rule).toBe(
      'HostSNIRegexp(`^[a-z0-9-]+\\.pg\\.test$`) || HostSNI(`db.test`) || HostSNI(`www.db.test`)',
    );
    expect(config.tcp!.services!['app-pg-tcp-15432']).toEqual({
      loadBalancer: { servers: [{ address: 'gatehouse-app-pg-r3:5432' }] },
    });
    expect(validateTraefikConfig(config)).toEqual({ ok: true });
  });

  it('traefik tcp - an app with only TCP ports renders no HTTP part and validates; TLS without an https name is refused', () => {
    const config = renderAppConfig(
      app({ domains: [], certificates: [], tcp: [{ publicPort: 16379, targetPort: 6379, tls: false }] }),
    );
    expect(config.http).toBeUndefined();
    expect(Object.keys(config.tcp!.routers!)).toEqual(['app-pg-tcp-16379']);
    expect(validateTraefikConfig(config)).toEqual({ ok: true });
    expect(() =>
      renderAppConfig(app({ domains: [{ hostname: 'db.test', https: false, www: 'none' }] })),
    ).toThrow(/terminates TLS but the app has no https domain/);
  });

  it('traefik tcp - the schema check is real: a TCP router without its service is refused', () => {
    const config = renderAppConfig(app());
    delete (config.tcp!.routers!['app-pg-tcp-15432'] as { service?: string }).service;
    expect(validateTraefikConfig(config).ok).toBe(false);
  });
});
