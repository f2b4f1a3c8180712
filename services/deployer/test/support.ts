import { randomUUID } from 'node:crypto';
import type { Db } from '@gatehouse/db';
import { appsCreated, appsDeleted, appsUpdated, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { sealAppEnv } from '@gatehouse/pki';
import Docker from 'dockerode';
import { createDockerClient } from '../src/docker-client.ts';
import { box } from './service.ts';

export const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';

export function testDocker(): Docker {
  return createDockerClient(process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock');
}

/** A stack name of the test file's own: its deployer sees only these containers. */
export function testStack(label: string): string {
  return `test-${label}-${Math.random().toString(36).slice(2, 8)}`;
}

/** busybox httpd on 127.0.0.1:port serving `body` at `/`. */
export function httpdCommand(port: number, body = 'hello'): string[] {
  return [
    'sh',
    '-c',
    `mkdir -p /www && echo "${body}" > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${port}`,
  ];
}

export interface TestApp {
  id: string;
  name: string;
  image: string;
  port: number;
  env: Record<string, string>;
  command: string[] | null;
  revision: number;
  /** Limits as the api stores them; the column defaults when absent. */
  memoryMb?: number;
  pidsLimit?: number;
}

function spec(app: TestApp) {
  return {
    appId: app.id,
    name: app.name,
    image: app.image,
    port: app.port,
    domains: [],
    command: app.command,
    revision: app.revision,
  };
}

/** What the api does on POST /v1/apps: the app row (env sealed) and `apps.created` in one transaction. */
export async function createApp(
  db: Db,
  fields: Omit<TestApp, 'id' | 'revision' | 'env'> & { env?: Record<string, string> },
): Promise<TestApp> {
  const app: TestApp = { id: randomUUID(), revision: 1, env: {}, ...fields };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('apps')
      .values({
        id: app.id,
        name: app.name,
        image: app.image,
        port: app.port,
        env_sealed: sealAppEnv(box, app.id, app.env),
        command: app.command === null ? null : JSON.stringify(app.command),
        revision: app.revision,
        ...(app.memoryMb !== undefined ? { memory_mb: app.memoryMb } : {}),
        ...(app.pidsLimit !== undefined ? { pids_limit: app.pidsLimit } : {}),
      })
      .execute();
    await enqueue(trx, createEvent(appsCreated, { source: 'api', subject: app.id, data: spec(app) }));
  });
  return app;
}

/** What the api does on PATCH: revision + 1 and `apps.updated`. */
export async function updateApp(
  db: Db,
  app: TestApp,
  patch: Partial<Pick<TestApp, 'image' | 'port' | 'env' | 'command'>>,
): Promise<TestApp> {
  const next: TestApp = { ...app, ...patch, revision: app.revision + 1 };
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('apps')
      .set({
        image: next.image,
        port: next.port,
        env_sealed: sealAppEnv(box, app.id, next.env),
        command: next.command === null ? null : JSON.stringify(next.command),
        revision: next.revision,
        updated_at: new Date(),
      })
      .where('id', '=', app.id)
      .execute();
    await enqueue(trx, createEvent(appsUpdated, { source: 'api', subject: app.id, data: spec(next) }));
  });
  return next;
}

/**
 * The same spec again under a new event id, as a producer retry or an older event arriving late
 * would look: processed_events cannot catch it, only deployer's revision check can.
 */
export async function republish(db: Db, app: TestApp, type: 'created' | 'updated'): Promise<void> {
  const contract = type === 'created' ? appsCreated : appsUpdated;
  await db.transaction().execute(async (trx) => {
    await enqueue(trx, createEvent(contract, { source: 'api', subject: app.id, data: spec(app) }));
  });
}

/** What the api does on DELETE: the row goes, `apps.deleted` with revision + 1. */
export async function deleteApp(db: Db, app: TestApp): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('apps').where('id', '=', app.id).execute();
    await enqueue(
      trx,
      createEvent(appsDeleted, {
        source: 'api',
        subject: app.id,
        data: { appId: app.id, name: app.name, revision: app.revision + 1 },
      }),
    );
  });
}

/** Events deployer wrote to its outbox about one app, oldest first. */
export async function emittedEvents(
  db: Db,
  appId: string,
  type: string,
): Promise<Array<{ data: Record<string, unknown> }>> {
  const rows = await db
    .selectFrom('outbox')
    .select(['envelope'])
    .where('type', '=', type)
    .where('subject', '=', appId)
    .orderBy('seq')
    .execute();
  return rows.map((row) => (typeof row.envelope === 'string' ? JSON.parse(row.envelope) : row.envelope));
}

export async function deploymentRows(db: Db, appId: string) {
  return db.selectFrom('deployments').selectAll().where('app_id', '=', appId).orderBy('created_at').execute();
}

/** The body served at http://127.0.0.1:port/ with status 200, or undefined. */
export async function fetchOk(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return response.status === 200 ? (await response.text()).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The app's containers (any state) in this stack. */
export async function appContainers(docker: Docker, stack: string, appId: string) {
  return docker.listContainers({
    all: true,
    filters: { label: [`gatehouse.stack=${stack}`, `gatehouse.app-id=${appId}`] },
  });
}

/** Removes every container the test's stack created. */
export async function removeStackContainers(docker: Docker, stack: string): Promise<void> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`gatehouse.stack=${stack}`] },
  });
  await Promise.all(
    containers.map((container) =>
      docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
}

export { Docker };
