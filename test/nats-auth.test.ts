import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent, deploymentsTcpProxyFailed } from '@gatehouse/events';
import { enqueue, natsInboxPrefix, natsServerAuthorization } from '@gatehouse/messaging';
import { startServiceProcess } from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { connect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from './stack.ts';

const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const suffix = Math.random().toString(36).slice(2, 8);

describe('nats users', { timeout: 240_000 }, () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ label: `test-natsauth-${suffix}`, natsAuth: true, env: { notifier: {} } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('nats - with one user per service and subject permissions, the main path works: app deployed, certificate issued, Traefik file written', async () => {
    const appPort = await freePort();
    const host = `auth-${suffix}.test`;
    const response = await fetch(`${stack.apiUrl}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `auth-${suffix}`,
        image: testImage,
        port: appPort,
        domains: [`https://${host}`],
        command: [
          'sh',
          '-c',
          `mkdir -p /www && echo hi > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${appPort}`,
        ],
      }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const outputs = () =>
      stack.processes.map(({ name, process }) => `--- ${name}\n${process.output().slice(-2000)}`).join('\n');
    await waitFor(
      'certificate issued and the app file written',
      async () => {
        const cert = await stack.database.db
          .selectFrom('certificates')
          .select('status')
          .where(sql<boolean>`${host} = any(names)`)
          .executeTakeFirst();
        const deployed = await stack.database.db
          .selectFrom('deployments')
          .select('status')
          .where('status', '=', 'running')
          .executeTakeFirst();
        const dynamic = join(stack.root, 'dynamic');
        const files = existsSync(dynamic) ? readdirSync(dynamic) : [];
        return (
          cert?.status === 'valid' &&
          deployed !== undefined &&
          files.some((file) => file.includes(`auth-${suffix}`))
        );
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    ).catch((error) => {
      throw new Error(outputs(), { cause: error });
    });
    // Every event goes out through its own service's relay: nothing was refused by NATS on the way. The last
    // ones (routes.applied after the file above) may still be on their way, so this waits for the outbox to drain.
    const unpublishedTypes = async () =>
      (
        await stack.database.db
          .selectFrom('outbox')
          .select('type')
          .where('published_at', 'is', null)
          .execute()
      ).map((row) => row.type);
    await waitFor('every event published', async () => (await unpublishedTypes()).length === 0, {
      timeoutMs: 15_000,
    }).catch(async (error) => {
      throw new Error(`still unpublished: ${(await unpublishedTypes()).join(', ')}\n${outputs()}`, {
        cause: error,
      });
    });
    for (const { name, process } of stack.processes)
      expect(process.output(), name).not.toMatch(/Permissions Violation/i);
  });

  it('nats - a TCP proxy failure goes from the deployer (its relay, its subject) to the notifier (its second consumer)', async () => {
    const app = await stack.database.db.selectFrom('apps').select(['id', 'name']).executeTakeFirstOrThrow();
    const event = createEvent(deploymentsTcpProxyFailed, {
      source: 'deployer',
      subject: app.id,
      data: {
        appId: app.id,
        appName: app.name,
        publicPort: 15433,
        reason: 'port-in-use',
        message: 'port 15433 is in use on the host by another process',
      },
    });
    await stack.database.db.transaction().execute((trx) => enqueue(trx, event));
    await waitFor(
      'the notifier recording the mail',
      async () =>
        (await stack.database.db
          .selectFrom('notifications')
          .select('id')
          .where('dedupe_key', '=', `tcp-proxy-failed:${event.id}`)
          .executeTakeFirst()) !== undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    for (const { name, process } of stack.processes)
      expect(process.output(), name).not.toMatch(/Permissions Violation/i);
  });
});

describe('nats permissions', { timeout: 120_000 }, () => {
  let nats: TestNatsServer;
  let database: TestDatabase;
  const passwords = { deployer: randomBytes(12).toString('hex'), api: randomBytes(12).toString('hex') };
  beforeAll(async () => {
    [nats, database] = await Promise.all([
      startNatsServer({ authorization: natsServerAuthorization(passwords) }),
      createTestDatabase('nats_permissions'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([nats?.stop(), database?.drop()]);
  });

  it('nats - the deployer’s user may not publish another service’s events, read a stream directly or another consumer, nor read others’ replies', async () => {
    const nc = await connect({
      servers: [nats.url],
      user: 'deployer',
      pass: passwords.deployer,
      inboxPrefix: natsInboxPrefix('deployer'),
    });
    const violations: string[] = [];
    const watching = (async () => {
      for await (const status of nc.status())
        if (status.type === 'error') violations.push(String((status.error as Error).message));
    })();
    try {
      nc.publish('certs.issued', '{"forged":true}');
      nc.publish('apps.created', '{"forged":true}');
      nc.subscribe('apps.>');
      nc.subscribe('_INBOX.>');
      nc.subscribe(`${natsInboxPrefix('api')}.>`);
      const foreignConsumer = await nc
        .request('$JS.API.CONSUMER.INFO.CERTS.cert-issuer-issuance', '', { timeout: 1_000 })
        .then(
          () => 'answered',
          (error: Error) => error.message,
        );
      await nc.flush();
      await waitFor('violations reported', async () => violations.length >= 6, { timeoutMs: 5_000 });
      expect(violations).toEqual(
        expect.arrayContaining([
          expect.stringContaining('Publish to "certs.issued"'),
          expect.stringContaining('Publish to "apps.created"'),
          expect.stringContaining('Subscription to "apps.>"'),
          expect.stringContaining('Subscription to "_INBOX.>"'),
          expect.stringContaining(`Subscription to "${natsInboxPrefix('api')}.>"`),
          expect.stringContaining('Publish to "$JS.API.CONSUMER.INFO.CERTS.cert-issuer-issuance"'),
        ]),
      );
      expect(foreignConsumer).not.toBe('answered');
      // What it is there for still works: publishing its own events (JetStream acknowledges it).
      const info = await nc.request('$JS.API.INFO', '', { timeout: 2_000 });
      expect(info.string()).toContain('account_info_response');
    } finally {
      await nc.close();
      await watching;
    }
  });

  it('nats - a service with a wrong password exits at once with code 78 and says which variables to check', async () => {
    const child = startServiceProcess('deployer', {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_USER: 'deployer',
      NATS_PASSWORD: 'not-the-password',
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
      DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
      DOCKER_NETWORK: 'host',
      HEALTH_LISTEN: `127.0.0.1:${await freePort()}`,
      GATEHOUSE_STACK: `test-natsauth-${suffix}`,
    });
    const code = await child.exited;
    expect(code).toBe(78);
    expect(child.output()).toContain(
      'NATS refused the credentials of user deployer: check NATS_USER and NATS_PASSWORD',
    );
    expect(child.output()).not.toContain('not-the-password');
  });
});
