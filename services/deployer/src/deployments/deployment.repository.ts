import type { Database, Db, DeployFailureReason, DeploymentStatus, DeploymentsTable } from '@gatehouse/db';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';

export type DeploymentRow = Selectable<DeploymentsTable>;

/** Lock key (`pg_advisory_xact_lock(hashtext(...))`): one deployer works on an app at a time. */
export function appLockName(appId: string): string {
  return `gatehouse.deployer-app:${appId}`;
}

/** Holds the app's lock until `trx` ends; consumers and reconcile both take it before touching Docker. */
export async function lockApp(trx: Transaction<Database>, appId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${appLockName(appId)}))`.execute(trx);
}

export async function findLatestDeployment(
  db: Kysely<Database>,
  appId: string,
): Promise<DeploymentRow | undefined> {
  return db
    .selectFrom('deployments')
    .selectAll()
    .where('app_id', '=', appId)
    .orderBy('created_at', 'desc')
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The highest revision deployer has acted on for the app, or -1. */
export async function findNewestRevision(db: Kysely<Database>, appId: string): Promise<number> {
  const row = await db
    .selectFrom('deployments')
    .select((eb) => eb.fn.max('revision').as('revision'))
    .where('app_id', '=', appId)
    .executeTakeFirst();
  return row?.revision ?? -1;
}

export interface NewDeployment {
  id: string;
  appId: string;
  revision: number;
  status: DeploymentStatus;
  containerId?: string | null;
  upstream?: { host: string; port: number } | null;
  error?: { reason: DeployFailureReason; message: string } | null;
}

export async function insertDeployment(trx: Transaction<Database>, row: NewDeployment): Promise<void> {
  // Wall-clock times, not now(): one transaction may write a `failed` and then a `running` row, and
  // the api orders rows by created_at.
  const now = new Date();
  await trx
    .insertInto('deployments')
    .values({
      id: row.id,
      app_id: row.appId,
      revision: row.revision,
      status: row.status,
      container_id: row.containerId ?? null,
      upstream_host: row.upstream?.host ?? null,
      upstream_port: row.upstream?.port ?? null,
      error_reason: row.error?.reason ?? null,
      error_message: row.error?.message ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

/** Moves the app's `running` rows (all, or all but `keepContainerId`'s) to `status`. */
export async function retireRunningDeployments(
  trx: Transaction<Database>,
  appId: string,
  status: Exclude<DeploymentStatus, 'running' | 'failed'>,
  keepContainerId?: string,
): Promise<void> {
  let query = trx
    .updateTable('deployments')
    .set({ status, updated_at: new Date() })
    .where('app_id', '=', appId)
    .where('status', '=', 'running');
  if (keepContainerId) query = query.where('container_id', 'is distinct from', keepContainerId);
  await query.execute();
}

export type { Db };
