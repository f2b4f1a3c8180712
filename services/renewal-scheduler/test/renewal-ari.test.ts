import { ariCertId } from '@gatehouse/pki';
import {
  type CertIssuerProcess,
  certificateRow,
  masterKey,
  requestCertificate,
  type ServiceProcess,
  startCertIssuer,
  startReadyService,
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
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);

// ARI end to end: Pebble 2.4.0 has no renewalInfo, so shared/testing's ARI proxy adds it and answers a
// window of our choosing. One-hour certificates: by lifetime they would renew in 30 minutes, so a renewal
// within seconds can only come from the window.
describe('renewal with ARI', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let proxy: AriProxy;
  let issuer: CertIssuerProcess;
  let scheduler: ServiceProcess;
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('renewal_ari'),
      startNatsServer(),
      startPebble({ httpPort: http01Port, certificateValiditySeconds: 3600, nonceRejectPercent: 0 }),
    ]);
    proxy = await startAriProxy(pebble);
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: { ACME_DIRECTORY_URL: proxy.directoryUrl },
    });
    scheduler = await startReadyService('renewal-scheduler', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      RENEWAL_TICK_SECONDS: '1',
      GATEHOUSE_MASTER_KEY: masterKey,
      ACME_CA_BUNDLE: pebble.listenerCaPath,
    });
  });
  afterAll(async () => {
    await scheduler?.stop();
    await issuer?.stop();
    await proxy?.close();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  it('ari - renewal happens inside the suggested window, and the order carries replaces', async () => {
    // The first certificate asked about gets a window 8–14 s ahead; any later one (the renewal) a far one.
    let firstCertId: string | undefined;
    let window: { start: Date; end: Date } | undefined;
    proxy.retryAfterSeconds = 60;
    proxy.window = (certId) => {
      firstCertId ??= certId;
      if (certId !== firstCertId)
        return { start: new Date(Date.now() + 86_400_000), end: new Date(Date.now() + 2 * 86_400_000) };
      window ??= { start: new Date(Date.now() + 8_000), end: new Date(Date.now() + 14_000) };
      return window;
    };
    const names = [`ari-${suffix}.test`];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitFor(
      'first certificate',
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    const scheduled = await waitFor(
      'renew_at moved into the ARI window',
      async () => {
        const row = await certificateRow(database.db, id);
        return row.renew_reason === 'ari' && row;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    ).catch((error) => {
      throw new Error(scheduler.output().slice(-3000), { cause: error });
    });
    expect(firstCertId).toBe(ariCertId(first.chain_pem!));
    expect(scheduled.ari_window_start).toEqual(window!.start);
    expect(scheduled.renew_at!.getTime()).toBeGreaterThanOrEqual(window!.start.getTime());
    expect(scheduled.renew_at!.getTime()).toBeLessThan(window!.end.getTime());
    // Retry-After 60 s: the next poll is about a minute out, not sooner.
    expect(scheduled.ari_next_poll_at!.getTime() - Date.now()).toBeGreaterThan(50_000);

    const renewed = await waitFor(
      'a renewed certificate',
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== first.serial && row;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    const renewedAt = Date.now();
    expect(renewedAt).toBeGreaterThanOrEqual(window!.start.getTime());
    // Inside the window, give or take one tick and the order itself.
    expect(renewedAt).toBeLessThan(window!.end.getTime() + 10_000);
    const due = await sql<{ reason: string }>`
      select envelope->'data'->>'reason' as reason from outbox where type = 'certs.renewal-due' and subject = ${id}`.execute(
      database.db,
    );
    expect(due.rows.map((row) => row.reason)).toEqual(['ari']);
    const orders = proxy.newOrders.filter((order) => order.identifiers[0]?.value === names[0]);
    expect(orders.map((order) => order.replaces)).toEqual([undefined, opensslAriCertId(first.chain_pem!)]);
    // The new certificate was polled in turn: its window lies past its expiry, so renewal is held to the
    // last tenth of its lifetime instead (never after expiry).
    await waitFor('the renewed certificate polled', async () => {
      const row = await certificateRow(database.db, id);
      return (
        row.serial === renewed.serial &&
        row.renew_reason === 'ari' &&
        row.renew_at!.getTime() > Date.now() + 30 * 60_000 &&
        row.renew_at!.getTime() <= row.not_after!.getTime() - 300_000
      );
    });
  });
});
