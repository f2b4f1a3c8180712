import { setTimeout as sleepFor } from 'node:timers/promises';

/**
 * Capped exponential backoff: `baseMs · 2^failures`, at most `maxMs`, spread by ±`jitter` (a fraction) so
 * replicas that failed together do not retry together. `failures` counts from 0 (the first retry waits
 * `baseMs`).
 */
export function backoffDelayMs(
  failures: number,
  { baseMs, maxMs, jitter = 0 }: { baseMs: number; maxMs: number; jitter?: number },
): number {
  const delay = Math.min(baseMs * 2 ** Math.max(failures, 0), maxMs);
  return jitter > 0 ? Math.round(delay * (1 - jitter + Math.random() * 2 * jitter)) : delay;
}

/** Resolves after `ms`; with a signal, rejects with its reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepFor(ms, undefined, signal ? { signal } : undefined);
}

/** A pause that work arriving can cut short; a wake-up with no one waiting ends the next pause at once. */
export interface WakeableSleep {
  /** Waits `ms`, or less if `wake()` is called (or was called since the last pause ended). */
  sleep(ms: number): Promise<void>;
  wake(): void;
}

export function createWakeableSleep(): WakeableSleep {
  let wakeUp: (() => void) | undefined;
  let wakeRequested = false;
  return {
    async sleep(ms) {
      if (wakeRequested) {
        wakeRequested = false;
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wakeUp = undefined;
          resolve();
        }, ms);
        wakeUp = () => {
          wakeUp = undefined;
          clearTimeout(timer);
          resolve();
        };
      });
    },
    wake() {
      if (wakeUp) wakeUp();
      else wakeRequested = true;
    },
  };
}
