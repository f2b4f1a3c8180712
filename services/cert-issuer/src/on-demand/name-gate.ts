import type { OnDemandLimits } from './on-demand-config.ts';

export type GateVerdict = { ask: true } | { ask: false; reason: 'denied-cached' | 'ask-rate-limited' };

/**
 * The per-replica memory of on-demand decisions: names the ask URL refused (for the deny TTL) and when each
 * name was last asked about (the per-name limit). Memory is enough here: each replica asks at most once per
 * TTL, and the guarantee that matters across replicas (one order per name) lives in Postgres.
 */
export function createNameGate(limits: OnDemandLimits, now: () => number = Date.now) {
  const deniedUntil = new Map<string, number>();
  const lastAsked = new Map<string, number>();

  function sweep(at: number): void {
    // Bounded memory under a scan of random names: expired entries go whenever the maps grow.
    if (deniedUntil.size + lastAsked.size < 10_000) return;
    for (const [name, until] of deniedUntil) if (until <= at) deniedUntil.delete(name);
    for (const [name, asked] of lastAsked) if (asked + limits.askIntervalMs <= at) lastAsked.delete(name);
  }

  return {
    /** Whether `name` may be asked about now; if so, the ask is recorded against the per-name limit. */
    beforeAsk(name: string): GateVerdict {
      const at = now();
      sweep(at);
      if ((deniedUntil.get(name) ?? 0) > at) return { ask: false, reason: 'denied-cached' };
      const asked = lastAsked.get(name);
      if (asked !== undefined && asked + limits.askIntervalMs > at)
        return { ask: false, reason: 'ask-rate-limited' };
      lastAsked.set(name, at);
      return { ask: true };
    },
    /** The ask URL said no: refuse the name without asking for the deny TTL. */
    deny(name: string): void {
      deniedUntil.set(name, now() + limits.denyTtlMs);
    },
  };
}

export type NameGate = ReturnType<typeof createNameGate>;
