import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Db } from '@gatehouse/db';
import { sql } from 'kysely';

/**
 * Generated hostile requests against a running api and HTTP-01 responder (issue 12): bodies, host names and
 * headers an attacker or a broken client could send. Used by `test/fuzz.test.ts` (a small count, in CI) and
 * `npm run bench:fuzz` (2,000). The contract checked: no answer ≥ 500, no stack trace in any answer, the
 * processes still alive at the end, and a refused request (4xx) changes no table.
 */

/** A small seeded PRNG (mulberry32): a failing run is reproduced by its seed. */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof createRandom>;

const label63 = 'a'.repeat(63);
/** Host names and URLs that have broken parsers somewhere. */
const hostileHosts = [
  '',
  ' ',
  '.',
  '..',
  '-a.test',
  'a-.test',
  'a..b.test',
  '*.',
  '*.*.test',
  'a.*.test',
  '*',
  'localhost',
  'LOCALHOST.',
  '127.0.0.1',
  '0x7f.1',
  '[::1]',
  '[::ffff:127.0.0.1]',
  '[fe80::1%25eth0]',
  '::1',
  '1.2.3.4:80',
  'xn--',
  'xn--zz.test',
  'xn--80ak6aa92e.test',
  'пример.test',
  'ｓｈｏｐ.test',
  'shop\u0000.test',
  'shop\u202e.test',
  'sh op.test',
  'shop.test.',
  `${label63}a.test`,
  `${label63}.${label63}.${label63}.${'b'.repeat(53)}.test`,
  `${`${label63}.`.repeat(4)}test`,
  `${'a.'.repeat(200)}test`,
  'a'.repeat(5000),
  '%61.test',
  'a.test/../../etc',
  'user:pw@a.test',
  'a.test?x=1',
  'a.test#frag',
  'a.test:99999',
  '{{.Env.SECRET}}.test',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style string is the point
  '${jndi:ldap://x}.test',
  'postgres',
  'nats',
  '169.254.169.254',
];
const schemes = [
  'https://',
  'http://',
  'HTTPS://',
  'ftp://',
  'javascript:',
  '//',
  '',
  'https:/',
  'http:\\\\',
];

const hostileStrings = [
  '',
  ' ',
  '\u0000',
  '\uffff',
  '\ud800',
  '😀'.repeat(100),
  'a'.repeat(70_000),
  '../../../../etc/passwd',
  "'; drop table apps; --",
  '<script>alert(1)</script>',
  '{{ .Env.GATEHOUSE_MASTER_KEY }}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection string is the point
  '${process.env.DATABASE_URL}',
  '%00%0d%0a',
  '\r\nX-Injected: 1',
  'null',
  'undefined',
  '__proto__',
  '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
  `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(5000)}\n-----END PRIVATE KEY-----`,
];
const hostileNumbers = [-1, 0, 1.5, 65536, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, -0];

function deep(depth: number): unknown {
  let value: unknown = 1;
  for (let index = 0; index < depth; index++) value = [value];
  return value;
}

/** Any JSON value, hostile by construction; sometimes a plausible one. */
function hostileValue(random: Random): unknown {
  switch (random.int(9)) {
    case 0:
      return random.pick(hostileStrings);
    case 1:
      return random.pick(hostileNumbers);
    case 2:
      return random.pick([null, true, false, [], {}, '1', 1]);
    case 3:
      return `${random.pick(schemes)}${random.pick(hostileHosts)}`;
    case 4:
      return deep(random.pick([10, 100, 2_000]));
    case 5:
      return Array.from({ length: random.pick([1, 100, 5_000]) }, () =>
        random.pick(hostileStrings).slice(0, 64),
      );
    case 6:
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}');
    case 7:
      return Object.fromEntries(
        Array.from({ length: random.pick([1, 50, 3_000]) }, (_, index) => [
          random.chance(0.5) ? `K${index}` : random.pick(hostileStrings).slice(0, 40),
          random.chance(0.7) ? random.pick(hostileStrings).slice(0, 100) : random.pick(hostileNumbers),
        ]),
      );
    default:
      return random.pick(hostileHosts);
  }
}

function domainList(random: Random): unknown {
  const length = random.pick([0, 1, 2, 5, 101, 300]);
  return Array.from({ length }, (_, index) => {
    const host = random.chance(0.5) ? `d${index}.fuzz.test` : random.pick(hostileHosts);
    const url = `${random.pick(schemes)}${host}`;
    if (random.chance(0.2))
      return { url, challenge: random.pick(['http-01', 'dns-01', 'auto', 'tls-alpn-01', 1, null]) };
    if (random.chance(0.1)) return hostileValue(random);
    return url;
  });
}

function appName(random: Random): string {
  return random.chance(0.7)
    ? `fz-${randomBytes(4).toString('hex')}`
    : String(random.pick(hostileStrings)).slice(0, 80);
}

/** A POST /v1/apps body: a valid one with one to three fields made hostile. */
function appBody(random: Random): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: appName(random),
    image: 'gatehouse-test/busybox:1',
    port: 8080,
    domains: [`https://${randomBytes(3).toString('hex')}.fuzz.test`],
  };
  const fields = ['name', 'image', 'port', 'domains', 'env', 'command', 'www', 'tcp', 'extra', '__proto__'];
  for (let index = 0, count = 1 + random.int(3); index < count; index++) {
    const field = random.pick(fields);
    body[field] =
      field === 'domains' && random.chance(0.6)
        ? domainList(random)
        : field === 'tcp' && random.chance(0.6)
          ? tcpList(random)
          : hostileValue(random);
  }
  return body;
}

/** TCP port entries (issue 15, item 4) with hostile ports, flags and extra keys. */
function tcpList(random: Random): unknown[] {
  return Array.from({ length: 1 + random.int(3) }, () => {
    const entry: Record<string, unknown> = {
      publicPort: random.chance(0.5) ? 20_000 + random.int(40_000) : hostileValue(random),
    };
    if (random.chance(0.5)) entry.targetPort = random.pick([0, 65_536, -1, 5432, 1.5, hostileValue(random)]);
    if (random.chance(0.5)) entry.tls = random.chance(0.5) ? true : hostileValue(random);
    if (random.chance(0.2)) entry[random.pick(['__proto__', 'constructor', 'extra'])] = hostileValue(random);
    return entry;
  });
}

function dnsProviderBody(random: Random): Record<string, unknown> {
  const kind = random.pick(['rfc2136', 'cloudflare', 'webhook', 'exec', 'route53', '', null]);
  const config: Record<string, unknown> =
    kind === 'webhook'
      ? { url: `${random.pick(schemes)}${random.pick(hostileHosts)}/${random.pick(['', 'a?b', 'a#b'])}` }
      : kind === 'exec'
        ? {
            command: random.pick([
              '/bin/sh',
              '/usr/local/bin/../../bin/sh',
              'rm -rf /',
              '/usr/local/bin/x y',
            ]),
          }
        : kind === 'rfc2136'
          ? {
              server: random.pick(hostileHosts),
              keyName: 'k',
              keyAlgorithm: 'hmac-sha256',
              keySecret: 'x'.repeat(20),
            }
          : { apiToken: random.pick(hostileStrings) };
  if (random.chance(0.3)) config[random.pick(['url', 'server', 'extra', 'token'])] = hostileValue(random);
  return { zone: random.chance(0.5) ? random.pick(hostileHosts) : 'fuzz.test', kind, config };
}

export interface FuzzRequest {
  /** Which service is asked: the api or the HTTP-01 responder. */
  target: 'api' | 'http01';
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
  /** Written to the socket as is, for requests an HTTP client refuses to send. */
  raw?: string | undefined;
}

const contentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-7',
  'application/json; charset=ebcdic',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/merge-patch+json',
  '',
];
const contentEncodings = ['gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip', 'GZIP', 'compress'];

/** One generated request; `apiToken` and the known HTTP-01 tokens make some of them authorised or real. */
export function generateRequest(
  random: Random,
  context: { apiToken: string; http01: ReadonlyArray<{ token: string; hostname: string }> },
): FuzzRequest {
  const auth = random.chance(0.9)
    ? `Bearer ${context.apiToken}`
    : random.pick([
        '',
        'Bearer',
        `bearer ${context.apiToken}`,
        `Bearer ${context.apiToken}x`,
        'Basic YTpi',
        'Bearer \u00ff',
      ]);
  const json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');
  const kind = random.int(100);
  if (kind < 12) {
    // HTTP-01 responder: real tokens under other hosts, hostile tokens and paths, other methods.
    const known = context.http01.length > 0 && random.chance(0.5) ? random.pick(context.http01) : undefined;
    const token =
      known?.token ??
      random.pick([
        'x'.repeat(22),
        '..%2f..%2fetc',
        '%',
        '%00',
        'a'.repeat(5000),
        randomBytes(16).toString('base64url'),
      ]);
    const host =
      known && random.chance(0.3)
        ? `${known.hostname}:5002`
        : random.pick(
            // Node refuses to send a Host header with control or non-ASCII characters: leave those out.
            hostileHosts.filter((host) => /^[\x20-\x7e]*$/.test(host) && host.length < 4000),
          );
    return {
      target: 'http01',
      method: random.pick(['GET', 'GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE']),
      path: random.chance(0.9)
        ? `/.well-known/acme-challenge/${token}`
        : random.pick(['/', '/.well-known/', '/%', '/..', '/metrics']),
      headers: { host },
    };
  }
  if (kind < 15) {
    // Broken HTTP the client libraries will not send.
    const target = random.chance(0.5) ? 'api' : 'http01';
    return {
      target,
      method: 'RAW',
      path: '',
      headers: {},
      raw: random.pick([
        'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /v1/apps HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{"name":',
        'GET /\u0000 HTTP/1.1\r\nHost: a\r\n\r\n',
        `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        'FOO\r\n\r\n',
        'GET /v1/apps HTTP/9.9\r\nHost: a\r\n\r\n',
        `POST /v1/apps HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${context.apiToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      ]),
    };
  }
  const headers: Record<string, string> = { authorization: auth, 'content-type': 'application/json' };
  let body: Buffer | undefined;
  let method = 'POST';
  let path = '/v1/apps';
  if (kind < 50) body = json(appBody(random));
  else if (kind < 62) {
    method = 'PATCH';
    path = `/v1/apps/${random.chance(0.5) ? 'fuzz-base' : encodeURIComponent(String(random.pick(hostileHosts)).toWellFormed())}`;
    const patch = appBody(random);
    delete patch.name;
    body = json(random.chance(0.2) ? hostileValue(random) : patch);
  } else if (kind < 72) {
    path = '/v1/dns-providers';
    body = json(dnsProviderBody(random));
  } else if (kind < 77) {
    path = '/v1/certificates';
    body = json({
      certificatePem: hostileValue(random),
      privateKeyPem: random.pick(hostileStrings),
      extra: random.chance(0.2) ? 1 : undefined,
    });
  } else if (kind < 82) {
    method = 'PUT';
    path = random.pick(['/v1/settings/admin-emails', '/v1/settings/fallback-certificate']);
    body = json(random.chance(0.5) ? { emails: hostileValue(random) } : hostileValue(random));
  } else if (kind < 92) {
    method = random.pick(['GET', 'GET', 'DELETE', 'POST']);
    const query = random.pick([
      '',
      `?status=${encodeURIComponent(String(random.pick(hostileStrings)).slice(0, 200).toWellFormed())}`,
      '?name=%',
      '?limit=-1',
      '?limit=1e9',
      '?certificateId=../../',
      '?kind[]=x&kind=y',
      '?reveal=env',
      '?reveal=%00',
    ]);
    path =
      random.pick([
        '/v1/apps',
        '/v1/certificates',
        '/v1/notifications',
        '/v1/dns-providers',
        '/v1/settings',
        `/v1/apps/${encodeURIComponent(String(random.pick(hostileStrings)).slice(0, 300).toWellFormed())}`,
        `/v1/certificates/${encodeURIComponent(String(random.pick(hostileStrings)).slice(0, 300).toWellFormed())}`,
        '/v1/certificates/00000000-0000-0000-0000-000000000000/renew',
        '/v1/dns-providers/%ZZ',
        '/v1/%',
        '/v1/../../etc/passwd',
      ]) + query;
    if (method === 'GET' || method === 'DELETE') body = undefined;
    else body = json(hostileValue(random));
  } else {
    // Header attacks on a plausible body.
    body = json(appBody(random));
    headers['content-type'] = random.pick(contentTypes);
    if (random.chance(0.6)) {
      headers['content-encoding'] = random.pick(contentEncodings);
      if (headers['content-encoding'] === 'gzip' && random.chance(0.5)) body = gzipSync(body);
    }
    if (random.chance(0.3))
      body = Buffer.from(random.pick(['{', '[]', '"x"', 'null', '{"a":1}}', '\u0000', '']));
    if (random.chance(0.2))
      headers['x-forwarded-for'] = random.pick(hostileHosts).replace(/[^\x21-\x7e]/g, '');
  }
  return { target: 'api', method, path, headers, body };
}

export interface FuzzAnswer {
  status: number;
  body: string;
}

function send(base: URL, fuzz: FuzzRequest): Promise<FuzzAnswer> {
  const raw = fuzz.raw;
  if (raw !== undefined) {
    return new Promise((resolve) => {
      const socket = connect(Number(base.port), base.hostname);
      let text = '';
      socket.setTimeout(10_000, () => socket.destroy());
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
        resolve({ status, body: text.slice(0, 2_000) });
      });
      socket.end(raw, 'latin1');
    });
  }
  return new Promise((resolve) => {
    try {
      const request = httpRequest(
        {
          host: base.hostname,
          port: base.port,
          method: fuzz.method,
          path: fuzz.path,
          headers: { ...fuzz.headers, ...(fuzz.body ? { 'content-length': fuzz.body.length } : {}) },
          agent: false,
          timeout: 15_000,
          insecureHTTPParser: false,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8').slice(0, 4_000),
            }),
          );
          response.on('error', () => resolve({ status: response.statusCode ?? 0, body: '' }));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      // A reset after an early answer (the server refused a body it did not read) is not a crash.
      request.on('error', (error) => resolve({ status: -1, body: String(error.message) }));
      request.end(fuzz.body);
    } catch (error) {
      // The client itself refused (a header value Node will not send): nothing reached the server.
      resolve({ status: -2, body: String((error as Error).message) });
    }
  });
}

/**
 * What a refused api request must leave alone: the rows the api writes. The cert-issuer works on accepted
 * certificates meanwhile (orders, tokens, its own events), so only the api's events are counted in the outbox.
 */
async function tableCounts(db: Db): Promise<string> {
  const row = await sql<{ counts: string }>`select concat_ws(',',
      (select count(*) from apps), (select count(*) from domains), (select count(*) from certificates),
      (select count(*) from app_certificates), (select count(*) from dns_providers), (select count(*) from settings),
      (select count(*) from outbox where envelope->>'source' = 'api')) as counts`.execute(db);
  return row.rows[0]!.counts;
}

export interface FuzzTargets {
  apiUrl: string;
  apiToken: string;
  http01Url: string;
  db: Db;
  http01: ReadonlyArray<{ token: string; hostname: string }>;
  /** Whether the services still answer /healthz (run after the fuzzing). */
  alive(): Promise<boolean>;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  byStatus: Record<string, number>;
  /** Answers ≥ 500, with the request that caused them. */
  serverErrors: Array<{ request: string; status: number; body: string }>;
  /** Answers whose body looks like a stack trace. */
  stackTraces: Array<{ request: string; body: string }>;
  /** Refused requests after which a table count had changed. */
  storedOnRefusal: Array<{ request: string; status: number; before: string; after: string }>;
  /** Requests that got no HTTP answer at all (reset, timeout), by the client's error. */
  noAnswer: number;
  alive: boolean;
  durationMs: number;
}

function describeRequest(fuzz: FuzzRequest): string {
  const body = fuzz.raw ?? fuzz.body?.toString('utf8') ?? '';
  return `${fuzz.target} ${fuzz.method} ${fuzz.path.slice(0, 200)} ${JSON.stringify(fuzz.headers).slice(0, 300)} ${body.slice(0, 400)}`;
}

const stackTracePattern = /\n\s+at .+[(\s/].+:\d+:\d+|node:internal|\.ts:\d+:\d+/;

/** Sends `count` generated requests one after another and reports what the contract forbids. */
export async function runFuzz(
  targets: FuzzTargets,
  options: { count: number; seed: number },
): Promise<FuzzReport> {
  const random = createRandom(options.seed);
  const report: FuzzReport = {
    seed: options.seed,
    requests: 0,
    byStatus: {},
    serverErrors: [],
    stackTraces: [],
    storedOnRefusal: [],
    noAnswer: 0,
    alive: false,
    durationMs: 0,
  };
  const started = performance.now();
  const api = new URL(targets.apiUrl);
  const http01 = new URL(targets.http01Url);
  for (let index = 0; index < options.count; index++) {
    const fuzz = generateRequest(random, { apiToken: targets.apiToken, http01: targets.http01 });
    const before = await tableCounts(targets.db);
    const answer = await send(fuzz.target === 'api' ? api : http01, fuzz);
    report.requests++;
    report.byStatus[answer.status] = (report.byStatus[answer.status] ?? 0) + 1;
    if (answer.status < 0 || answer.status === 0) report.noAnswer++;
    if (answer.status >= 500)
      report.serverErrors.push({
        request: describeRequest(fuzz),
        status: answer.status,
        body: answer.body.slice(0, 500),
      });
    if (stackTracePattern.test(answer.body))
      report.stackTraces.push({ request: describeRequest(fuzz), body: answer.body.slice(0, 500) });
    if (answer.status >= 400 || answer.status <= 0) {
      const after = await tableCounts(targets.db);
      if (after !== before)
        report.storedOnRefusal.push({ request: describeRequest(fuzz), status: answer.status, before, after });
    }
  }
  report.alive = await targets.alive();
  report.durationMs = Math.round(performance.now() - started);
  return report;
}
