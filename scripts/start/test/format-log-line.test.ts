import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../format-log-line.ts';

// Local wall-clock time, as the formatter shows it.
const at = new Date(2025, 0, 2, 13, 4, 5);
const plain = { service: 'api', width: 12, color: false };
const esc = String.fromCharCode(27);

function pinoLine(fields: Record<string, unknown>): string {
  return JSON.stringify({
    level: 'info',
    time: at.toISOString(),
    pid: 42,
    hostname: 'box',
    service: 'api',
    ...fields,
  });
}

describe('format-log-line', () => {
  it('start - renders time, a fixed-width service column, the level and the message', () => {
    expect(formatLogLine(pinoLine({ msg: 'service started' }), plain)).toBe(
      '13:04:05 api          INFO  service started',
    );
    expect(formatLogLine(pinoLine({ msg: 'x' }), { ...plain, service: 'cert-issuer' })).toBe(
      '13:04:05 cert-issuer  INFO  x',
    );
  });

  it('start - shows each level by name, pino numbers included', () => {
    expect(formatLogLine(pinoLine({ level: 'warn', msg: 'm' }), plain)).toContain(' WARN  m');
    expect(formatLogLine(pinoLine({ level: 'error', msg: 'm' }), plain)).toContain(' ERROR m');
    expect(formatLogLine(pinoLine({ level: 50, msg: 'm' }), plain)).toContain(' ERROR m');
    expect(formatLogLine(pinoLine({ level: 20, msg: 'm' }), plain)).toContain(' DEBUG m');
  });

  it('start - appends fields as key=value, quoting only where needed, leaving out pid and hostname', () => {
    const line = formatLogLine(
      pinoLine({
        msg: 'dependency unavailable, retrying',
        dependency: 'postgres',
        err: 'connect ECONNREFUSED 127.0.0.1:5432',
        retry_in_ms: 250,
        ok: false,
        migrations: ['0001', '0002'],
      }),
      plain,
    );
    expect(line).toBe(
      '13:04:05 api          INFO  dependency unavailable, retrying dependency=postgres ' +
        'err="connect ECONNREFUSED 127.0.0.1:5432" retry_in_ms=250 ok=false migrations=["0001","0002"]',
    );
  });

  it('start - shows an error object by its message, and its stack below at level error', () => {
    const err = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at start (main.ts:1:1)' };
    expect(formatLogLine(pinoLine({ level: 'warn', msg: 'retrying', err }), plain)).toBe(
      '13:04:05 api          WARN  retrying err="boom"',
    );
    expect(formatLogLine(pinoLine({ level: 'fatal', msg: 'service failed to start', err }), plain)).toBe(
      '13:04:05 api          FATAL service failed to start err="boom"\n    Error: boom\n    at start (main.ts:1:1)',
    );
  });

  it('start - passes lines that are not pino JSON through after the prefix', () => {
    const options = { ...plain, now: at };
    expect(formatLogLine('api: GATEHOUSE_API_TOKEN: required, but it is not set', options)).toBe(
      '13:04:05 api          api: GATEHOUSE_API_TOKEN: required, but it is not set',
    );
    expect(formatLogLine('{not json', options)).toBe('13:04:05 api          {not json');
    expect(formatLogLine('{"no":"msg"}', options)).toBe('13:04:05 api          {"no":"msg"}');
    expect(formatLogLine('', options)).toBe('13:04:05 api          ');
  });

  it('start - colors the service and level only when color is on', () => {
    const line = pinoLine({ level: 'error', msg: 'm', cert_id: 'c1' });
    expect(formatLogLine(line, plain)).not.toContain(esc);
    const colored = formatLogLine(line, { ...plain, color: true, serviceStyle: 'cyan' });
    expect(colored).toContain(esc);
    expect(colored.replace(new RegExp(`${esc}\\[\\d+m`, 'g'), '')).toBe(formatLogLine(line, plain));
  });
});
