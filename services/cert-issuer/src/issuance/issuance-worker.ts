import type { Db, IssuanceJobRow } from '@gatehouse/db';
import type { Logger } from '@gatehouse/telemetry';
import type { IssuanceDeps } from './issuance-deps.ts';
import { claimDueJobs, releaseLeases, renewLease } from './job-queue.ts';
import { processJob } from './process-job.ts';

export interface IssuanceWorkerOptions {
  db: Db;
  logger: Logger;
  /** Replica identity written into leases. */
  holder: string;
  /** Orders this replica works on at once. */
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  deps: Omit<IssuanceDeps, 'signal' | 'onOrderDone'>;
}

export interface IssuanceWorker {
  /** Claims due work now instead of at the next poll (the consumer just queued some). */
  wake(): void;
  /**
   * Stops claiming, gives back jobs not started yet, aborts work in flight at its next step and waits for it;
   * the leases of that work lapse.
   */
  stop(): Promise<void>;
}

/**
 * Jobs claimed ahead of a free slot, started the moment one frees: the claim's round trip is then not between two
 * orders (a slot sat idle for about a fifth of the time while the next job was claimed on a busy replica).
 */
const prefetch = 1;

/**
 * Claims due issuance jobs (leased, at most `concurrency` at a time, plus `prefetch` waiting for a slot) and
 * processes them, renewing each lease while it works. If a lease is lost (this replica stalled past it), the job's
 * work is aborted at its next step; whoever claims it next resumes from the persisted order.
 */
export function startIssuanceWorker(options: IssuanceWorkerOptions): IssuanceWorker {
  const { db, logger, holder, concurrency, leaseMs, pollMs } = options;
  const inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>();
  // Jobs still at the CA. A job whose order is done and that only stores its certificate stays in
  // `inFlight` (stop() waits for it) but no longer holds one of the `concurrency` slots.
  let ordering = 0;
  const stopping = new AbortController();
  let wakeUp: (() => void) | undefined;
  // A wake-up that arrives while the loop is claiming (no one waiting yet) is kept for the next wait,
  // otherwise a job finishing during a claim would leave its slot idle until the next poll.
  let wakeRequested = false;
  const wake = () => {
    wakeRequested = true;
    wakeUp?.();
  };
  const ready: Array<{ job: IssuanceJobRow; claimedAt: number }> = [];

  /** Starts waiting jobs while slots are free. One whose lease may be close to lapsing is given back instead. */
  function startReady(): void {
    while (ordering < concurrency && ready.length > 0) {
      const { job, claimedAt } = ready.shift()!;
      if (Date.now() - claimedAt < leaseMs / 3) {
        run(job);
        continue;
      }
      releaseLeases(db, [job.id], holder).then(wake, (error: unknown) =>
        logger.warn({ job_id: job.id, err: error }, 'giving back an issuance job failed; its lease lapses'),
      );
    }
  }

  function run(job: IssuanceJobRow): void {
    const abort = new AbortController();
    let finished = false;
    const renew = setInterval(
      async () => {
        try {
          // A renewal that lands after the job finished (and released its lease) is not a lost lease.
          if (!(await renewLease(db, job.id, holder, leaseMs)) && !finished) {
            logger.warn({ job_id: job.id }, 'issuance lease lost, aborting');
            abort.abort();
          }
        } catch (error) {
          logger.warn({ job_id: job.id, err: error }, 'issuance lease renewal failed');
        }
      },
      Math.max(leaseMs / 3, 200),
    );
    const signal = AbortSignal.any([abort.signal, stopping.signal]);
    ordering += 1;
    let slotHeld = true;
    const releaseSlot = () => {
      if (!slotHeld) return;
      slotHeld = false;
      ordering -= 1;
      startReady();
      wake();
    };
    const done = processJob(job, { ...options.deps, signal, onOrderDone: releaseSlot })
      .catch((error) =>
        logger.error(
          { job_id: job.id, err: error },
          'issuance job crashed; it resumes when its lease lapses',
        ),
      )
      .finally(() => {
        finished = true;
        clearInterval(renew);
        inFlight.delete(job.id);
        releaseSlot();
      });
    inFlight.set(job.id, { abort, done });
  }

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      wakeRequested = false;
      try {
        startReady();
        const wanted = concurrency - ordering + (prefetch - ready.length);
        if (wanted > 0) {
          // Every wake comes after the commit that made work due (the consumer's afterCommit, the on-demand
          // claim, a slot released), so a wake that finds nothing has nothing to look for again soon.
          const claimed = await claimDueJobs(db, holder, wanted, leaseMs);
          const claimedAt = Date.now();
          for (const job of claimed) ready.push({ job, claimedAt });
          startReady();
        }
      } catch (error) {
        logger.warn({ err: error }, 'claiming issuance work failed');
      }
      await new Promise<void>((resolve) => {
        if (wakeRequested || stopping.signal.aborted) return resolve();
        const timer = setTimeout(resolve, pollMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  })();

  return {
    wake,
    async stop() {
      stopping.abort();
      wake();
      await loop;
      // Claimed but never started: claimable by another replica at once, not when their leases lapse.
      const unstarted = ready.splice(0).map(({ job }) => job.id);
      await releaseLeases(db, unstarted, holder).catch((error: unknown) =>
        logger.warn({ err: error }, 'giving back unstarted issuance jobs failed; their leases lapse'),
      );
      await Promise.allSettled([...inFlight.values()].map((work) => work.done));
    },
  };
}
