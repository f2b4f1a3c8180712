import { styleText } from 'node:util';

export type Style = Parameters<typeof styleText>[0];

export interface FormatOptions {
  /** Name shown in the service column (the child process, not the line's own `service` field). */
  service: string;
  /** Width of the service column, so every line's message starts at the same place. */
  width: number;
  /** ANSI colors on or off; the caller decides (TTY, NO_COLOR). */
  color: boolean;
  /** Style of the service column when `color` is on. */
  serviceStyle?: Style;
  /** Time shown for lines that carry none (non-JSON output). */
  now?: Date;
}

/** Fields every pino line has, shown in the columns or not at all. */
const hiddenFields = new Set(['level', 'time', 'service', 'msg', 'pid', 'hostname']);

const levelNames: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const levelStyles: Record<string, Style> = {
  trace: 'gray',
  debug: 'gray',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: ['bold', 'red'],
};

/**
 * Renders one line a service wrote as `HH:MM:SS service  LEVEL msg key=value ...` (local time).
 * A pino JSON line (an object with `msg`) is taken apart; anything else is passed through after the
 * time and service columns. Errors at level error or above get their stack on the following lines.
 * Pure: the same input always gives the same output.
 */
export function formatLogLine(line: string, options: FormatOptions): string {
  const paint = (style: Style, text: string) =>
    options.color ? styleText(style, text, { validateStream: false }) : text;
  const service = paint(options.serviceStyle ?? 'reset', options.service.padEnd(options.width));
  const record = parseRecord(line);
  if (!record) return `${clock(options.now ?? new Date())} ${service} ${line}`;

  const level = levelName(record.level);
  const time =
    typeof record.time === 'string' || typeof record.time === 'number' ? new Date(record.time) : undefined;
  const parts = [
    clock(time && !Number.isNaN(time.getTime()) ? time : (options.now ?? new Date())),
    service,
    paint(levelStyles[level] ?? 'reset', level.toUpperCase().padEnd(5)),
    String(record.msg),
  ];
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (hiddenFields.has(key) || value === undefined) continue;
    parts.push(`${paint('gray', `${key}=`)}${formatValue(value)}`);
    if (isErrorLike(value) && (level === 'error' || level === 'fatal')) stacks.push(value.stack);
  }
  const indented = stacks.flatMap((stack) => stack.split('\n').map((stackLine) => `    ${stackLine.trim()}`));
  return [parts.join(' '), ...indented].join('\n');
}

function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'msg' in value) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Not JSON after all: shown as it is.
  }
  return undefined;
}

/** pino writes labels (`formatters.level`) in our services, numbers by default. */
function levelName(level: unknown): string {
  if (typeof level === 'number') return levelNames[level] ?? String(level);
  return typeof level === 'string' ? level : 'info';
}

function clock(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

/** Bare when unambiguous, JSON otherwise, so `key=value` pairs split on spaces. */
function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (isErrorLike(value)) return JSON.stringify(value.message ?? value.stack.split('\n')[0]);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** pino's error serializer writes `{type, message, stack, ...}`. */
function isErrorLike(value: unknown): value is { message?: string; stack: string } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { stack?: unknown }).stack === 'string'
  );
}
