import {
  announceRenewalDue,
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
  opensslAriCertId,
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

describe('issuance - ARI replaces', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let proxy: AriProxy;
  let issuer: CertIssuerProcess;
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('issuance_ari'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    proxy = await startAriProxy(pebble);
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: { ACME_DIRECTORY_URL: proxy.directoryUrl },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    await proxy?.close();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  async function waitForNewSerial(id: string, previousSerial: string | null) {
    return waitFor(
      `certificate ${id} valid with a new serial`,
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== previousSerial && row;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    ).catch(async (error) => {
      const row = await certificateRow(database.db, id);
      throw new Error(
        `status ${row.status}, last error ${row.last_error_kind}: ${row.last_error_message}\n${issuer.output().slice(-3000)}`,
        { cause: error },
      );
    });
  }

  /** What renewal-scheduler does when the ARI window opens: renew-at now, then `certs.renewal-due`. */
  async function renewalDue(id: string, names: string[]) {
    await announceRenewalDue(database.db, { id, names }, { reason: 'ari', set: { renew_at: new Date() } });
  }

  function ordersFor(names: string[]) {
    return proxy.newOrders.filter((order) =>
      order.identifiers.some((identifier) => identifier.value === names[0]),
    );
  }

  it('ari - a renewal order carries replaces = the old certificate’s ARI id; a first order carries none', async () => {
    const names = [name('renew')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);
    expect(ordersFor(names)).toHaveLength(1);
    expect(ordersFor(names)[0]!.replaces).toBeUndefined();

    await renewalDue(id, names);
    const renewed = await waitForNewSerial(id, first.serial);
    expect(verifyChain(renewed.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
    const orders = ordersFor(names);
    expect(orders).toHaveLength(2);
    expect(orders[1]!.replaces).toBe(opensslAriCertId(first.chain_pem!));
  });

  it('ari - a newOrder rejected as alreadyReplaced is placed once more without replaces and succeeds', async () => {
    const names = [name('rejected')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);

    proxy.rejectReplaces = {
      type: 'urn:ietf:params:acme:error:alreadyReplaced',
      detail: 'the certificate named in replaces has already been replaced',
    };
    try {
      await renewalDue(id, names);
      await waitForNewSerial(id, first.serial);
    } finally {
      proxy.rejectReplaces = undefined;
    }
    const renewalOrders = ordersFor(names).slice(1);
    expect(renewalOrders.map((order) => order.replaces)).toEqual([
      opensslAriCertId(first.chain_pem!),
      undefined,
    ]);
    const failures = await database.db
      .selectFrom('order_attempts')
      .select('outcome')
      .where('certificate_id', '=', id)
      .where('outcome', '=', 'failure')
      .execute();
    expect(failures).toEqual([]);
  });

  it('ari - a certificate from another CA directory is renewed without replaces', async () => {
    const names = [name('other-ca')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);
    await database.db
      .updateTable('certificates')
      .set({ issuer: 'https://another-ca.test/directory' })
      .where('id', '=', id)
      .execute();

    await renewalDue(id, names);
    await waitForNewSerial(id, first.serial);
    expect(ordersFor(names).map((order) => order.replaces)).toEqual([undefined, undefined]);
  });
});
