import { once } from 'node:events';
import type { Database, Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import { Router } from 'express';
import type { Transaction } from 'kysely';
import { readLines } from './read-lines.ts';
import { restoreBackup } from './restore-backup.ts';
import { writeBackup } from './write-backup.ts';

/** A row is a few KiB (a chain and a sealed key); a megabyte is far beyond any real one. */
const maxLineBytes = 1024 * 1024;

export const backupMediaType = 'application/vnd.gatehouse.backup';

/**
 * `GET /backup` streams the archive of this installation; `POST /restore` imports one into an empty installation
 * (see restore-backup.ts). Mounted under `/v1`, so both need the bearer token.
 */
export function backupRoutes(
  db: Db,
  box: SecretBox,
  options: { logger: Logger; announce: (trx: Transaction<Database>) => Promise<void> },
): Router {
  const router = Router();

  router.get('/backup', async (_request, response) => {
    const now = new Date();
    response.status(200);
    response.type(backupMediaType);
    response.setHeader(
      'content-disposition',
      `attachment; filename="gatehouse-${now.toISOString().replace(/[:.]/g, '-')}.backup"`,
    );
    try {
      const rows = await writeBackup(
        db,
        box,
        async (line) => {
          if (!response.write(line)) await once(response, 'drain');
        },
        now,
      );
      response.end();
      options.logger.info({ rows }, 'backup written');
    } catch (error) {
      // Headers are gone: the only honest signal left is a broken stream (the archive then has no trailer).
      options.logger.error({ err: error }, 'backup failed while streaming');
      response.destroy();
    }
  });

  router.post('/restore', async (request, response) => {
    let report: Awaited<ReturnType<typeof restoreBackup>>;
    try {
      report = await restoreBackup(db, box, readLines(request, maxLineBytes), options.announce);
    } catch (error) {
      // Refused before the upload ended: read the rest away, so the client gets the answer, not a reset.
      request.resume();
      throw error;
    }
    options.logger.info({ rows: report.rows, created_at: report.createdAt }, 'backup restored');
    response.status(200).json(report);
  });

  return router;
}
