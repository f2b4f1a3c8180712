import { stringify } from 'yaml';

/**
 * A value would put a literal `{{` into a file. Traefik runs every file-provider file through Go templates
 * before parsing it, so such a file would be misread or rejected, freezing the whole directory.
 */
export class TemplateDelimiterError extends Error {
  override readonly name = 'TemplateDelimiterError';
  /** Where the value sits in the rendered object, e.g. `/http/routers/app-shop-https/rule`. */
  readonly path: string;
  constructor(path: string, value: string) {
    super(`refusing to write '{{' (a Go template delimiter to Traefik) at ${path}: ${JSON.stringify(value)}`);
    this.path = path;
  }
}

/**
 * Serializes a rendered config to YAML with every mapping's keys sorted, so equal objects give byte-identical
 * text whatever order their keys were built in (unchanged files are then skipped by comparing bytes). Array
 * order is kept: the renderers sort what has no meaningful order. Throws TemplateDelimiterError if any key or
 * value contains `{{`; rejected rather than escaped, because nothing legitimate (host names, paths, URLs) has it.
 */
export function serializeTraefikConfig(config: object): string {
  assertNoTemplateDelimiter(config, '');
  const text = stringify(config, { sortMapEntries: true, lineWidth: 0 });
  // The check above covers every string; this one also covers anything the YAML writer itself produces.
  if (text.includes('{{')) throw new TemplateDelimiterError('/', text);
  return text;
}

function assertNoTemplateDelimiter(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (value.includes('{{')) throw new TemplateDelimiterError(path || '/', value);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      assertNoTemplateDelimiter(item, `${path}/${index}`);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const itemPath = `${path}/${key}`;
      if (key.includes('{{')) throw new TemplateDelimiterError(itemPath, key);
      assertNoTemplateDelimiter(item, itemPath);
    }
  }
}
