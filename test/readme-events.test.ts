// The README's event table says who emits and who consumes each subject. It is read off the code here (the
// contracts passed to createEvent and to a consumer's on(...)), so the table cannot drift from what runs.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as events from '@gatehouse/events';
import { allContracts } from '@gatehouse/events';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

/** Contract variable name (as imported in services) → event type. */
const typeByExportName = new Map(
  Object.entries(events).flatMap(([name, value]) =>
    allContracts.includes(value as (typeof allContracts)[number])
      ? [[name, (value as (typeof allContracts)[number]).type] as const]
      : [],
  ),
);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** type → services, for every `pattern` match whose first group names a contract. */
function scan(pattern: RegExp): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const service of readdirSync(path.join(repoRoot, 'services'))) {
    for (const file of sourceFiles(path.join(repoRoot, 'services', service, 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(pattern)) {
        const type = typeByExportName.get(match[1]!);
        if (type === undefined) continue;
        const services = found.get(type) ?? new Set<string>();
        services.add(service);
        found.set(type, services);
      }
    }
  }
  return found;
}

/** The README's `| subject | emitted by | consumed by |` rows, as `type: emitters / consumers`. */
function readmeRows(): string[] {
  const start = readme.indexOf('| subject ');
  expect(start, 'the README has an event table').toBeGreaterThan(0);
  const rows: string[] = [];
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [subject = '', emitters = '', consumers = ''] = line.split('|').slice(1, 4);
    const names = (cell: string) => [...cell.matchAll(/`([a-z-]+)`/g)].map((match) => match[1]!).sort();
    rows.push(`${subject.replaceAll('`', '').trim()}: ${names(emitters)} / ${names(consumers)}`);
  }
  return rows;
}

describe('readme event table', () => {
  it('readme - lists every event subject with the services that emit and consume it', () => {
    const emitted = scan(/createEvent\(\s*([A-Za-z]+)\s*,/g);
    const consumed = scan(/\bon\(\s*([A-Za-z]+)\s*,/g);
    const expected = allContracts.map(
      ({ type }) =>
        `${type}: ${[...(emitted.get(type) ?? [])].sort()} / ${[...(consumed.get(type) ?? [])].sort()}`,
    );
    expect(readmeRows().sort()).toEqual(expected.sort());
  });
});
