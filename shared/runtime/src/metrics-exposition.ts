/**
 * Metrics rendered straight to Prometheus text, beside prom-client's default registry. For families with a
 * series per row (a gauge per certificate), building prom-client label objects for 100k rows costs seconds per
 * scrape; a source renders its lines from one query instead. A source MUST return complete families
 * (`# HELP`, `# TYPE`, samples) whose names prom-client does not also register.
 */
export type MetricsSource = () => Promise<string>;

const sources = new Map<string, MetricsSource>();

/** Adds (or replaces, by name) a source that `/metrics` appends to the registry's output. */
export function addMetricsSource(name: string, source: MetricsSource): void {
  sources.set(name, source);
}

export function removeMetricsSource(name: string): void {
  sources.delete(name);
}

/** Every source's text; one that fails is left out and reported in `gatehouse_metrics_source_up`. */
export async function renderMetricsSources(): Promise<string> {
  if (sources.size === 0) return '';
  const rendered = await Promise.all(
    [...sources].map(async ([name, source]) => {
      try {
        return { name, up: 1, text: await source() };
      } catch {
        return { name, up: 0, text: '' };
      }
    }),
  );
  const up = [
    '# HELP gatehouse_metrics_source_up Whether a metrics source rendered at the last scrape (0: it failed, its series are missing)',
    '# TYPE gatehouse_metrics_source_up gauge',
    ...rendered.map(
      ({ name, up }) => `gatehouse_metrics_source_up{source="${escapeLabelValue(name)}"} ${up}`,
    ),
  ];
  return `${rendered.map(({ text }) => text).join('')}${up.join('\n')}\n`;
}

/** Escapes a label value per the Prometheus text format (backslash, double quote, newline). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
