import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

export interface PebbleOptions {
  /** Port Pebble connects to for HTTP-01 (it dials the name's A record there, `Host: name:port`). */
  httpPort: number;
  /** Port Pebble connects to for TLS-ALPN-01. Default: a port that was free, so nothing answers there. */
  tlsPort?: number;
  /** DNS server Pebble resolves through (`-dnsserver`). Default: challtestsrv at 127.0.0.1:8053. */
  dnsServer?: string;
  /** `certificateValidityPeriod` in seconds (Pebble's default is 5 years). */
  certificateValiditySeconds?: number;
  /** Names (and their subdomains) Pebble refuses to order for. */
  domainBlocklist?: string[];
  externalAccountBindingRequired?: boolean;
  /** EAB key id -> base64url HMAC key. */
  externalAccountMACKeys?: Record<string, string>;
  /** PEBBLE_WFE_NONCEREJECT: percent of good nonces rejected as badNonce. Default: Pebble's own (5). */
  nonceRejectPercent?: number;
  /** PEBBLE_AUTHZREUSE: percent of new orders that reuse valid authorizations. Default: Pebble's own (50). */
  authzReusePercent?: number;
  /**
   * PEBBLE_CHAIN_LENGTH: despite the name, the number of intermediates between root and leaf (Pebble 2.4.0,
   * ca.newChain). Default: Pebble's own, 1 (root -> intermediate -> leaf).
   */
  chainLength?: number;
  /** PEBBLE_ALTERNATE_ROOTS: number of alternate roots. Default: none. */
  alternateRoots?: number;
  /** More environment for Pebble (for example PEBBLE_VA_ALWAYS_VALID). Applied last. */
  env?: Record<string, string>;
  /** How long start waits for /dir to answer. Default 15 s. */
  startTimeoutMs?: number;
}

export interface PebbleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface TestPebble {
  /** `https://127.0.0.1:<port>/dir` */
  directoryUrl: string;
  /** `https://127.0.0.1:<port>` (management API: /roots/0, /intermediates/0, /cert-status-by-serial/<hex>) */
  managementUrl: string;
  /** PEM of the CA that signs Pebble's HTTPS listeners (trust it to talk to directoryUrl/managementUrl). */
  listenerCaPem: string;
  /** File holding listenerCaPem (for NODE_EXTRA_CA_CERTS in a child process). */
  listenerCaPath: string;
  httpPort: number;
  tlsPort: number;
  /** The config file Pebble was started with (JSON, `{"pebble": {...}}`). */
  configPath: string;
  /** PEM of the root that signs issued certs (fetched from management /roots/0; changes at every start). */
  rootPem(): Promise<string>;
  /**
   * PEM of the intermediate that signs issued leaf certs (management /intermediates/0; changes at every
   * start). With chainLength 1 (the default) the root signs it.
   */
  intermediatePem(): Promise<string>;
  /** Management /cert-status-by-serial/<hex> as parsed JSON; throws on a non-2xx answer (404: unknown serial). */
  certStatusBySerial(serialHex: string): Promise<unknown>;
  /** An HTTPS request that trusts listenerCaPem (for talking to Pebble without an ACME client). */
  request(
    url: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<PebbleResponse>;
  /** The tail of Pebble's stdout/stderr (across restarts). */
  output(): string;
  /** "Pebble down": SIGKILL, waits for the exit. Ports and config stay reserved for start(). */
  kill(): Promise<void>;
  /**
   * Starts Pebble again on the same ports with the same config. Pebble keeps all its state in memory, so
   * a restarted Pebble has forgotten every account, order, authorization and certificate, and has a new
   * root and intermediate. A no-op while it runs.
   */
  start(): Promise<void>;
  /** kill() and remove the temp dir with the config. The instance cannot be started again. */
  stop(): Promise<void>;
}

interface ListenerTls {
  caPath: string;
  certPath: string;
  keyPath: string;
}

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const OUTPUT_LIMIT = 64 * 1024;

// Every Pebble started by this process, so none outlives it if a test forgets stop().
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
}

/**
 * A Pebble of this test's own on free loopback ports, so a test file can kill/restart it or give it its
 * own blocklist, certificate lifetime or HTTP-01 port without disturbing other files running in parallel.
 * Needs `pebble` on PATH (Debian's package) and, for DNS, pebble-challtestsrv on `dnsServer`.
 */
export async function startPebble(options: PebbleOptions): Promise<TestPebble> {
  const tls = await listenerTls();
  const caPem = readFileSync(tls.caPath, 'utf8');
  const agent = new Agent({ ca: caPem, keepAlive: false });
  const tlsPort = options.tlsPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gh-pebble-'));
  const configPath = join(dir, 'pebble-config.json');
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  let port = 0;
  let managementPort = 0;
  let child: ChildProcess | undefined;
  let output = '';
  let stopped = false;

  const writeConfig = () => {
    const pebble: Record<string, unknown> = {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: tls.certPath,
      privateKey: tls.keyPath,
      httpPort: options.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.externalAccountBindingRequired ?? false,
    };
    if (options.externalAccountMACKeys) pebble.externalAccountMACKeys = options.externalAccountMACKeys;
    if (options.domainBlocklist) pebble.domainBlocklist = options.domainBlocklist;
    if (options.certificateValiditySeconds !== undefined) {
      const seconds = options.certificateValiditySeconds;
      if (!Number.isInteger(seconds) || seconds <= 0) {
        throw new Error(`certificateValiditySeconds must be a positive integer, got ${seconds}`);
      }
      pebble.certificateValidityPeriod = seconds;
    }
    writeFileSync(configPath, `${JSON.stringify({ pebble }, null, 2)}\n`);
  };

  const env: NodeJS.ProcessEnv = {};
  // Pebble's behaviour comes from the options only, never from PEBBLE_* variables this process inherited.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PEBBLE_')) env[key] = value;
  env.PEBBLE_VA_NOSLEEP = '1';
  if (options.nonceRejectPercent !== undefined)
    env.PEBBLE_WFE_NONCEREJECT = String(options.nonceRejectPercent);
  if (options.authzReusePercent !== undefined) env.PEBBLE_AUTHZREUSE = String(options.authzReusePercent);
  if (options.chainLength !== undefined) env.PEBBLE_CHAIN_LENGTH = String(options.chainLength);
  if (options.alternateRoots !== undefined) env.PEBBLE_ALTERNATE_ROOTS = String(options.alternateRoots);
  Object.assign(env, options.env);

  const tail = (lines = 40) => output.trimEnd().split('\n').slice(-lines).join('\n');

  const request: TestPebble['request'] = (url, init = {}) =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        { method: init.method ?? 'GET', headers: init.headers, agent, timeout: 5_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
      req.on('error', reject);
      req.end(init.body);
    });

  async function launch(): Promise<void> {
    const proc = spawn(
      'pebble',
      ['-config', configPath, '-dnsserver', options.dnsServer ?? '127.0.0.1:8053'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    let exited = false;
    let spawnError: Error | undefined;
    proc.once('exit', () => {
      exited = true;
    });
    proc.once('error', (error) => {
      spawnError = error;
      exited = true;
    });
    track(proc);
    child = proc;

    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (exited) {
        child = undefined;
        const reason = spawnError ? String(spawnError) : `exit code ${proc.exitCode ?? proc.signalCode}`;
        throw new Error(`pebble exited during startup (${reason}); its output:\n${tail()}`, {
          cause: spawnError,
        });
      }
      try {
        // The management listener starts in its own goroutine: wait for both.
        const [dirResponse, rootResponse] = await Promise.all([
          request(`https://127.0.0.1:${port}/dir`),
          request(`https://127.0.0.1:${managementPort}/roots/0`),
        ]);
        if (dirResponse.status === 200 && rootResponse.status === 200) return;
        lastError = new Error(
          `/dir answered ${dirResponse.status}, /roots/0 answered ${rootResponse.status}`,
        );
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        await killChild();
        throw new Error(
          `pebble did not answer on https://127.0.0.1:${port}/dir within ${timeoutMs} ms (${lastError}); its output:\n${tail()}`,
          { cause: lastError },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function killChild(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  // The ports were free a moment ago; if another process took one meanwhile, try fresh ones.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    managementPort = await freePort();
    if (port === managementPort) continue;
    writeConfig();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt < 3 && /address already in use/i.test(output)) {
        output = '';
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  const managementUrl = `https://127.0.0.1:${managementPort}`;
  const managementText = async (path: string): Promise<string> => {
    const response = await request(`${managementUrl}${path}`);
    if (response.status < 200 || response.status > 299) {
      throw new Error(`pebble management ${path} answered ${response.status}: ${response.body}`);
    }
    return response.body;
  };

  return {
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    managementUrl,
    listenerCaPem: caPem,
    listenerCaPath: tls.caPath,
    httpPort: options.httpPort,
    tlsPort,
    configPath,
    rootPem: () => managementText('/roots/0'),
    intermediatePem: () => managementText('/intermediates/0'),
    async certStatusBySerial(serialHex) {
      const serial = serialHex.replace(/:/g, '').toLowerCase();
      return JSON.parse(await managementText(`/cert-status-by-serial/${encodeURIComponent(serial)}`));
    },
    request,
    output: () => output,
    kill: killChild,
    async start() {
      if (stopped) throw new Error('this Pebble was stopped; start a new one with startPebble()');
      if (child) return;
      await launch();
    },
    async stop() {
      stopped = true;
      await killChild();
      agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The CA and localhost certificate for Pebble's HTTPS listeners
// ---------------------------------------------------------------------------------------------------------

let generated: Promise<ListenerTls> | undefined;

/** The testbed's CA + localhost cert (scripts/testbed), else a pair generated once for this process. */
function listenerTls(): Promise<ListenerTls> {
  const candidates = [process.env.PEBBLE_CA_CERT, join(repoRoot, '.testbed', 'pebble', 'ca.pem')];
  for (const caPath of candidates) {
    if (!caPath) continue;
    const found = usableTls(caPath);
    if (found) return Promise.resolve(found);
  }
  generated ??= generateTls();
  return generated;
}

/** scripts/testbed keeps ca.pem, cert.pem and key.pem side by side. Usable if cert is valid and signed by ca. */
function usableTls(caPath: string): ListenerTls | undefined {
  const certPath = join(dirname(caPath), 'cert.pem');
  const keyPath = join(dirname(caPath), 'key.pem');
  if (!existsSync(caPath) || !existsSync(certPath) || !existsSync(keyPath)) return undefined;
  try {
    readFileSync(keyPath); // readable by us (and so by the Pebble we spawn)
    const ca = new X509Certificate(readFileSync(caPath));
    const cert = new X509Certificate(readFileSync(certPath));
    const soon = Date.now() + 3600_000;
    const valid = (c: X509Certificate) =>
      Date.parse(c.validFrom) <= Date.now() && Date.parse(c.validTo) > soon;
    if (!valid(ca) || !valid(cert) || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return undefined;
    if (!cert.checkHost('localhost') || !cert.checkIP('127.0.0.1')) return undefined;
    return { caPath, certPath, keyPath };
  } catch {
    return undefined;
  }
}

async function generateTls(): Promise<ListenerTls> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-pebble-tls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const caPath = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const csrPath = join(dir, 'cert.csr');
  const extPath = join(dir, 'cert.ext');
  const p256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    ...p256,
    '-days',
    '30',
    '-subj',
    '/CN=Gatehouse test Pebble listener CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    caKey,
    '-out',
    caPath,
  ]);
  await run('openssl', [
    'req',
    '-new',
    ...p256,
    '-subj',
    '/CN=localhost',
    '-keyout',
    keyPath,
    '-out',
    csrPath,
  ]);
  writeFileSync(
    extPath,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    caPath,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    extPath,
    '-out',
    certPath,
  ]);
  return { caPath, certPath, keyPath };
}
