import { createWakeableSleep } from '@gatehouse/messaging';
import type { Logger } from '@gatehouse/telemetry';

export interface Periodic {
  /** Runs the next pass now instead of after the rest of the pause (work arrived). */
  wake(): void;
  /** Lets the current pass finish, then stops; `stopping()` tells the pass to cut its batches short. */
  stop(): Promise<void>;
}

/**
 * A service's clock: runs `pass` and pauses `everyMs` after it ends, for ever. A pass that throws is logged
 * and the next one comes after the usual pause (Postgres or the network coming back is the normal cure).
 */
export function startPeriodic(options: {
  name: string;
  everyMs: number;
  logger: Logger;
  pass: (stopping: () => boolean) => Promise<unknown>;
}): Periodic {
  let stopping = false;
  const pause = createWakeableSleep();
  const isStopping = () => stopping;
  const loop = (async () => {
    while (!stopping) {
      try {
        await options.pass(isStopping);
      } catch (error) {
        options.logger.warn({ err: error }, `${options.name} failed; trying again`);
      }
      if (stopping) break;
      await pause.sleep(options.everyMs);
    }
  })();
  return {
    wake: pause.wake,
    async stop() {
      stopping = true;
      pause.wake();
      await loop;
    },
  };
}
