import { randomBytes } from 'node:crypto';
import {
  masterKey,
  type ReadyServiceProcess,
  startCertIssuer,
  startReadyService,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
} from '@gatehouse/testing';
import type { FuzzTargets } from './hostile-requests.ts';

/**
 * The processes a fuzz run aims at, as in production: the api and a cert-issuer (its HTTP-01 responder) as
 * real processes on their own database and NATS, one app (`fuzz-base`) to PATCH, and HTTP-01 tokens to ask for
 * under the wrong names.
 */
export async function startFuzzTargets(label: string): Promise<FuzzTargets & { stop(): Promise<void> }> {
  let database: TestDatabase | undefined;
  let nats: TestNatsServer | undefined;
  let pebble: TestPebble | undefined;
  const processes: ReadyServiceProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((process) => process.stop()));
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  };
  try {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase(label),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    const apiToken = randomBytes(32).toString('base64');
    const apiPort = await freePort();
    const base = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    };
    processes.push(
      await startReadyService('api', {
        ...base,
        API_LISTEN: `127.0.0.1:${apiPort}`,
        GATEHOUSE_API_TOKEN: apiToken,
        GATEHOUSE_MASTER_KEY: masterKey,
        DNS_EXEC_DIR: '/usr/local/lib/gatehouse-dns',
      }),
    );
    processes.push(
      await startCertIssuer({
        database,
        nats,
        pebbles: [pebble],
        http01Port,
        env: { ...base, PREFLIGHT: 'off' },
      }),
    );
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const created = await fetch(`${apiUrl}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'fuzz-base',
        image: 'gatehouse-test/busybox:1',
        port: 8080,
        domains: ['http://fuzz-base.test'],
        env: { SECRET: 'x' },
      }),
    });
    if (created.status !== 201) throw new Error(`fuzz-base app: ${created.status} ${await created.text()}`);
    const http01 = Array.from({ length: 3 }, (_, index) => ({
      token: randomBytes(32).toString('base64url'),
      hostname: `t${index}.fuzz.test`,
    }));
    await database.db
      .insertInto('http01_tokens')
      .values(
        http01.map(({ token, hostname }) => ({
          token,
          hostname,
          key_authorization: `${token}.thumbprint`,
          expires_at: new Date(Date.now() + 3_600_000),
        })),
      )
      .execute();
    const db = database.db;
    return {
      apiUrl,
      apiToken,
      http01Url: `http://127.0.0.1:${http01Port}`,
      db,
      http01,
      async alive() {
        const answers = await Promise.all(
          processes.map((process) =>
            fetch(`${process.healthUrl}/healthz`).then(
              (r) => r.ok,
              () => false,
            ),
          ),
        );
        return answers.every(Boolean);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
