/** Plain-text output helpers: aligned tables, relative times, the lifetime bar. */

/** Left-aligned columns separated by two spaces; the header row first. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `in 3d 4h`, `5m ago`: the distance from now in the two largest units. */
export function relative(iso: string | null, now = Date.now()): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso) - now;
  const text = span(Math.abs(ms));
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function span(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length === 0 ? '0s' : parts.join(' ');
}

/** Days from now until `iso` (negative once past), one decimal. */
export function daysLeft(iso: string | null, now = Date.now()): number | null {
  if (iso === null) return null;
  return Math.round(((Date.parse(iso) - now) / 86_400_000) * 10) / 10;
}

/** Share of the lifetime used, 0..1; null when not issued. */
export function lifetimeUsed(
  notBefore: string | null,
  notAfter: string | null,
  now = Date.now(),
): number | null {
  if (notBefore === null || notAfter === null) return null;
  const start = Date.parse(notBefore);
  const end = Date.parse(notAfter);
  if (end <= start) return 1;
  return Math.min(1, Math.max(0, (now - start) / (end - start)));
}

/**
 * A TCP proxy port as `public:target[/tls]`, the form `apps create --tcp` takes (Docker's `-p` order); a target
 * the api leaves null is the app's port.
 */
export function tcpPortLabel(
  port: { publicPort: number; targetPort: number | null; tls: boolean },
  appPort: number,
): string {
  return `${port.publicPort}:${port.targetPort ?? appPort}${port.tls ? '/tls' : ''}`;
}

/** Parses `--tcp public[:target][/tls]` into the api's entry; undefined when it is not of that form. */
export function parseTcpPortOption(
  text: string,
): { publicPort: number; targetPort?: number; tls?: true } | undefined {
  const match = /^(\d{1,5})(?::(\d{1,5}))?(\/tls)?$/i.exec(text.trim());
  if (!match) return undefined;
  return {
    publicPort: Number(match[1]),
    ...(match[2] !== undefined ? { targetPort: Number(match[2]) } : {}),
    ...(match[3] !== undefined ? { tls: true as const } : {}),
  };
}
