/**
 * Delays between issuance rounds after failures: minutes, then hours, never more than a day apart
 * (Caddy and Cloudron both back off like this so a broken DNS setup does not hammer the CA, yet a
 * fixed one heals within the day). Rounds stop 30 days after the first failure.
 */
export const defaultRetryLadderMs = [
  60_000, // 1 min: a transient CA or network blip
  5 * 60_000,
  15 * 60_000,
  60 * 60_000, // 1 h: DNS changes propagate
  3 * 3_600_000,
  6 * 3_600_000,
  12 * 3_600_000,
  24 * 3_600_000, // then daily
];

export const giveUpAfterMs = 30 * 24 * 3_600_000;

/** Delay before round `failedRounds + 1`; the last rung repeats. */
export function retryDelayMs(failedRounds: number, ladder: readonly number[] = defaultRetryLadderMs): number {
  const index = Math.min(Math.max(failedRounds - 1, 0), ladder.length - 1);
  return ladder[index] ?? 24 * 3_600_000;
}

/** Parses `1s,30s,5m,1h,1d` into milliseconds; throws a message naming the bad entry. */
export function parseLadder(value: string): number[] {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return value.split(',').map((entry) => {
    const match = /^\s*(\d+)(ms|s|m|h|d)\s*$/.exec(entry);
    if (!match) throw new Error(`"${entry}" is not a duration like 30s, 5m, 1h or 1d`);
    return Number(match[1]) * units[match[2]!]!;
  });
}
