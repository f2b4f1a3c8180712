import {
  attemptsOf,
  type CertIssuerProcess,
  certificateRow,
  requestCertificate,
  startCertIssuer,
  verifyChain,
} from '@gatehouse/service-harness';
import {
  type AriProxy,
  createTestDatabase,
  freePort,
  startAriProxy,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);
const name = (label: string) => `${label}-${suffix}.test`;

// Pebble 2.4.0 has no profiles (it ignores the field). The proxy in front of it advertises Let's Encrypt's
// `meta.profiles` and records the `profile` each newOrder carries, or refuses it with `invalidProfile`: this proves
// what cert-issuer sends and how it falls back, not that a CA issues a different certificate per profile.
const letsEncryptProfiles = {
  classic: 'The same profile you are accustomed to',
  tlsserver: 'https://letsencrypt.org/2025/01/09/acme-profiles/',
  shortlived: 'https://letsencrypt.org/2025/01/16/6-day-and-ip-certs/',
};

interface Setup {
  database: TestDatabase;
  nats: TestNatsServer;
  pebble: TestPebble;
  proxy: AriProxy;
  issuer: CertIssuerProcess;
}

async function setUp(label: string, profiles: Record<string, string> | undefined): Promise<Setup> {
  const http01Port = await freePort();
  const [database, nats, pebble] = await Promise.all([
    createTestDatabase(`profiles_${label}`),
    startNatsServer(),
    startPebble({ httpPort: http01Port }),
  ]);
  const proxy = await startAriProxy(pebble);
  proxy.profiles = profiles;
  const issuer = await startCertIssuer({
    database,
    nats,
    pebbles: [pebble],
    http01Port,
    env: { ACME_DIRECTORY_URL: proxy.directoryUrl, ACME_PROFILE: 'tlsserver' },
  });
  return { database, nats, pebble, proxy, issuer };
}

async function tearDown(setup: Partial<Setup>): Promise<void> {
  await setup.issuer?.stop();
  await setup.proxy?.close();
  await Promise.all([setup.database?.drop(), setup.nats?.stop(), setup.pebble?.stop()]);
}

async function waitValid(setup: Setup, id: string) {
  return waitFor(
    `certificate ${id} valid`,
    async () => {
      const row = await certificateRow(setup.database.db, id);
      return row.status === 'valid' && row;
    },
    { timeoutMs: 45_000, intervalMs: 100 },
  ).catch(async (error) => {
    const row = await certificateRow(setup.database.db, id);
    throw new Error(
      `status ${row.status}, last error ${row.last_error_kind}: ${row.last_error_message}\n${setup.issuer.output().slice(-3000)}`,
      { cause: error },
    );
  });
}

function ordersFor(setup: Setup, names: string[]) {
  return setup.proxy.newOrders.filter((order) =>
    order.identifiers.some((identifier) => identifier.value === names[0]),
  );
}

describe('issuance - ACME profiles', { timeout: 240_000 }, () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp('offered', letsEncryptProfiles);
  });
  afterAll(async () => {
    await tearDown(setup ?? {});
  });

  it('profiles - an order carries ACME_PROFILE when the directory lists it in meta.profiles', async () => {
    const names = [name('tls')];
    const id = await requestCertificate(setup.database.db, names, { challenge: 'http-01' });
    const row = await waitValid(setup, id);
    expect(verifyChain(row.chain_pem!, await setup.pebble.rootPem())).toEqual({ ok: true });
    expect(ordersFor(setup, names).map((order) => order.profile)).toEqual(['tlsserver']);
  });

  it('profiles - an order refused with invalidProfile is placed once more without a profile and issues in the same round', async () => {
    const names = [name('refused')];
    setup.proxy.rejectProfile = {
      type: 'urn:ietf:params:acme:error:invalidProfile',
      detail: 'profile "tlsserver" is not available for this account',
    };
    try {
      const id = await requestCertificate(setup.database.db, names, { challenge: 'http-01' });
      const row = await waitValid(setup, id);
      expect(row.failure_count).toBe(0);
      expect((await attemptsOf(setup.database.db, id)).map((attempt) => attempt.outcome)).toEqual([
        'success',
      ]);
    } finally {
      setup.proxy.rejectProfile = undefined;
    }
    expect(ordersFor(setup, names).map((order) => order.profile ?? null)).toEqual(['tlsserver', null]);
  });
});

describe('issuance - ACME profiles at a CA without them', { timeout: 240_000 }, () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp('absent', { classic: 'The only profile here' });
  });
  afterAll(async () => {
    await tearDown(setup ?? {});
  });

  it('profiles - a CA whose meta.profiles lacks ACME_PROFILE gets orders without a profile', async () => {
    const names = [name('plain')];
    const id = await requestCertificate(setup.database.db, names, { challenge: 'http-01' });
    await waitValid(setup, id);
    const orders = ordersFor(setup, names);
    expect(orders).toHaveLength(1);
    expect(orders[0]).not.toHaveProperty('profile');
  });
});
