import type { Db, TcpProxyStateRow } from '@gatehouse/db';
import { createEvent, deploymentsTcpProxyFailed } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import type { TcpProxyObservation } from '../docker/tcp-proxy-health.ts';

/** Event `source` of what the deployer emits. */
const source = 'deployer';

export type RecordedTcpProxyStates = ReadonlyMap<number, TcpProxyStateRow>;

/** Every recorded proxy state by public port (read once per pass). */
export async function loadTcpProxyStates(db: Db): Promise<RecordedTcpProxyStates> {
  const rows = await db.selectFrom('tcp_proxy_states').selectAll().execute();
  return new Map(rows.map((row) => [row.public_port, row]));
}

/**
 * The state to keep after observing `seen`: `starting` never replaces what the same app's port already showed (a
 * failed proxy stays failed until it has run a while; a running one restarted by a kill stays running), anything
 * else replaces it.
 */
function nextState(
  recorded: TcpProxyStateRow | undefined,
  appId: string,
  seen: TcpProxyObservation,
): TcpProxyObservation | undefined {
  if (recorded && recorded.app_id === appId) {
    if (seen.status === 'starting') return undefined;
    if (
      recorded.status === seen.status &&
      recorded.error_reason === (seen.error?.reason ?? null) &&
      recorded.error_message === (seen.error?.message ?? null)
    )
      return undefined;
  }
  return seen;
}

/**
 * Records what a pass saw of one port's proxy. A change is written under the row's lock, and the first `failed` of
 * an episode (the port's previous state, for this app, was not `failed`) emits `deployments.tcp-proxy-failed` in
 * the same transaction, so replicas racing on one port emit it once. `hint` (the pass's earlier read) spares the
 * transaction when nothing changed.
 */
export async function recordTcpProxyState(
  db: Db,
  port: { publicPort: number; appId: string; appName: string },
  seen: TcpProxyObservation,
  hint: TcpProxyStateRow | undefined,
): Promise<void> {
  if (!nextState(hint, port.appId, seen)) return;
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('tcp_proxy_states')
      .values({ public_port: port.publicPort, app_id: port.appId, status: 'starting' })
      .onConflict((conflict) => conflict.column('public_port').doNothing())
      .execute();
    const recorded = await trx
      .selectFrom('tcp_proxy_states')
      .selectAll()
      .where('public_port', '=', port.publicPort)
      .forUpdate()
      .executeTakeFirstOrThrow();
    // The row just inserted as a placeholder counts as nothing recorded.
    const previous =
      recorded.status === 'starting' && recorded.app_id === port.appId && recorded.error_reason === null
        ? undefined
        : recorded;
    const next = nextState(previous, port.appId, seen);
    if (!next) return;
    const statusChanged =
      recorded.app_id !== port.appId ||
      recorded.status !== next.status ||
      recorded.error_reason !== (next.error?.reason ?? null);
    await trx
      .updateTable('tcp_proxy_states')
      .set({
        app_id: port.appId,
        status: next.status,
        error_reason: next.error?.reason ?? null,
        error_message: next.error?.message ?? null,
        ...(statusChanged ? { changed_at: new Date() } : {}),
      })
      .where('public_port', '=', port.publicPort)
      .execute();
    const episodeStarts =
      next.status === 'failed' && (recorded.app_id !== port.appId || recorded.status !== 'failed');
    if (episodeStarts && next.error) {
      await enqueue(
        trx,
        createEvent(deploymentsTcpProxyFailed, {
          source,
          subject: port.appId,
          data: {
            appId: port.appId,
            appName: port.appName,
            publicPort: port.publicPort,
            reason: next.error.reason,
            message: next.error.message,
          },
        }),
      );
    }
  });
}

/** Drops the states of ports no app declares any more. */
export async function forgetTcpProxyStates(db: Db, declaredPorts: readonly number[]): Promise<void> {
  let query = db.deleteFrom('tcp_proxy_states');
  if (declaredPorts.length > 0) query = query.where('public_port', 'not in', [...declaredPorts]);
  await query.execute();
}
