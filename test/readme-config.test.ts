// The README's configuration table is how operators learn the variables: it must list exactly what each service's
// zod schema reads, no more (a promise the code does not keep) and no less (a variable nobody can find).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeConfigSchema } from '@gatehouse/runtime';
import { describe, expect, it } from 'vitest';
import { apiConfigShape } from '../services/api/src/config.ts';
import { certIssuerConfigShape } from '../services/cert-issuer/src/config.ts';
import { deployerConfigShape } from '../services/deployer/src/config.ts';
import { notifierConfigShape } from '../services/notifier/src/config.ts';
import { proxyConfigShape } from '../services/proxy-config/src/config.ts';
import { renewalSchedulerConfigShape } from '../services/renewal-scheduler/src/config.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');

const serviceShapes: Record<string, object> = {
  api: apiConfigShape,
  deployer: deployerConfigShape,
  'cert-issuer': certIssuerConfigShape,
  'renewal-scheduler': renewalSchedulerConfigShape,
  'proxy-config': proxyConfigShape,
  notifier: notifierConfigShape,
};

/** Variable names per service column of the README's `| variable | service | default | meaning |` table. */
function readmeVariables(): Map<string, Set<string>> {
  const start = readme.indexOf('| variable ');
  expect(start, 'the README has a configuration table').toBeGreaterThan(0);
  const byService = new Map<string, Set<string>>();
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [names = '', service = ''] = line.split('|').slice(1, 3);
    const variables = [...names.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!);
    // A variable several services read has one row naming them all, comma-separated.
    for (const key of service.split(',').map((name) => name.trim())) {
      const set = byService.get(key) ?? new Set<string>();
      for (const variable of variables) set.add(variable);
      byService.set(key, set);
    }
  }
  return byService;
}

describe('readme configuration table', () => {
  const table = readmeVariables();
  const everyService = [...(table.get('all') ?? [])].sort();

  it('readme - the variables every service reads are the runtime schema', () => {
    expect(everyService).toEqual(Object.keys(runtimeConfigSchema(0).shape).sort());
  });

  it('readme - no row names a service that does not exist', () => {
    expect([...table.keys()].filter((service) => service !== 'all' && !(service in serviceShapes))).toEqual(
      [],
    );
  });

  for (const [service, shape] of Object.entries(serviceShapes)) {
    it(`readme - the ${service} rows list exactly the variables its config reads`, () => {
      expect([...(table.get(service) ?? [])].sort()).toEqual(Object.keys(shape).sort());
    });
  }
});
