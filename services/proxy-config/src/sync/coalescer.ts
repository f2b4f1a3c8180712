import { type Context, captureContext, withSpanPerCause } from '@gatehouse/telemetry';

/** What a burst has to do: a full pass, or only the apps named since the last burst. */
export interface PendingWork {
  full: boolean;
  appIds: Set<string>;
}

/** Causes kept per burst: the write gets a span in each cause's trace (see withSpanPerCause). */
const maxCauses = 32;

/**
 * Runs `sync` at most once per `intervalMs`, however many changes arrive (a burst of events becomes one
 * write of the files it touches; Traefik itself applies at most one new configuration per
 * `providersThrottleDuration`). Requests accumulate between runs: the app
 * ids of every request, or a full pass if any request asked for one. A request during a sync schedules one
 * more. The first request after a quiet interval runs at once, so a lone change is not delayed.
 */
export function createCoalescer(sync: (work: PendingWork) => Promise<void>, intervalMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let lastRun = Number.NEGATIVE_INFINITY;
  let pending: PendingWork = { full: false, appIds: new Set() };
  let causes: Context[] = [];
  let stopped = false;

  // The trace of the change that asked for a write (a consumer's span) continues into the write itself.
  function remember(): void {
    if (causes.length < maxCauses) causes.push(captureContext());
  }

  function arm(): void {
    if (stopped || running || timer) return;
    if (!pending.full && pending.appIds.size === 0) return;
    const wait = Math.max(0, lastRun + intervalMs - Date.now());
    timer = setTimeout(run, wait);
  }

  function run(): void {
    timer = undefined;
    lastRun = Date.now();
    const work = pending;
    const burstCauses = causes;
    pending = { full: false, appIds: new Set() };
    causes = [];
    running = withSpanPerCause(
      'write traefik files',
      burstCauses,
      { attributes: { 'gatehouse.full_pass': work.full, 'gatehouse.apps': work.appIds.size } },
      () => sync(work),
    ).finally(() => {
      running = undefined;
      arm();
    });
  }

  return {
    /** Asks for a full pass (start, periodic sweep, a change whose reach is unknown). */
    scheduleFull(): void {
      pending.full = true;
      remember();
      arm();
    },
    /** Asks for these apps' files to be brought up to date. */
    scheduleApps(appIds: Iterable<string>): void {
      let added = false;
      for (const id of appIds) {
        pending.appIds.add(id);
        added = true;
      }
      if (added) remember();
      arm();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
