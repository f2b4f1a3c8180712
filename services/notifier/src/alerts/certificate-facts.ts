import type { Database } from '@gatehouse/db';
import type { Transaction } from 'kysely';
import type { AttemptLine } from '../mail/compose.ts';

/** What a mail about a certificate says besides the event: is one being served, until when, and the last tries. */
export async function certificateFacts(trx: Transaction<Database>, certificateId: string) {
  const certificate = await trx
    .selectFrom('certificates')
    .select(['id', 'names', 'source', 'status', 'chain_pem', 'not_after', 'released_at'])
    .where('id', '=', certificateId)
    .executeTakeFirst();
  if (!certificate) return undefined;
  const attempts = await trx
    .selectFrom('order_attempts')
    .select(['started_at', 'challenge_type', 'outcome', 'error_kind', 'error_message'])
    .where('certificate_id', '=', certificateId)
    .orderBy('started_at', 'desc')
    .limit(5)
    .execute();
  const servingUntil =
    certificate.chain_pem && certificate.not_after && certificate.not_after.getTime() > Date.now()
      ? certificate.not_after
      : null;
  return {
    names: certificate.names,
    source: certificate.source,
    /** No app uses it any more (migration 0020): nothing is renewed, so nothing is left to remind about. */
    released: certificate.released_at !== null,
    servingUntil,
    attempts: attempts.map(
      (attempt): AttemptLine => ({
        at: attempt.started_at,
        challenge: attempt.challenge_type,
        outcome: attempt.outcome,
        errorKind: attempt.error_kind,
        errorMessage: attempt.error_message,
      }),
    ),
  };
}
