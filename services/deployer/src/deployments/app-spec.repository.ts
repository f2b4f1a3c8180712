import type { Database, Db } from '@gatehouse/db';
import { openAppEnv, type SecretBox } from '@gatehouse/pki';
import type { Kysely, Transaction } from 'kysely';
import type { AppSpec } from '../docker/app-containers.ts';

/**
 * The app as Postgres has it now, env opened with the master key; undefined when the app is gone. The deployer
 * runs what this says, never what an event carried: an `apps.*` event only says which app changed (a message
 * on the bus is not trusted to choose an image, a command or an env).
 */
export async function loadAppSpec(
  db: Db | Transaction<Database> | Kysely<Database>,
  box: SecretBox,
  appId: string,
): Promise<AppSpec | undefined> {
  const row = await db
    .selectFrom('apps')
    .select([
      'id',
      'name',
      'image',
      'port',
      'env',
      'env_sealed',
      'command',
      'revision',
      'memory_mb',
      'pids_limit',
      'network',
    ])
    .where('id', '=', appId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    image: row.image,
    port: row.port,
    env: openAppEnv(box, row),
    command: row.command ?? null,
    revision: row.revision,
    memoryMb: row.memory_mb,
    pidsLimit: row.pids_limit,
    network: row.network === 'isolated' ? 'isolated' : 'shared',
  };
}

/** Ids of every app, for the reconciler's pass. */
export async function listAppIds(db: Db): Promise<string[]> {
  return (await db.selectFrom('apps').select('id').execute()).map((row) => row.id);
}
