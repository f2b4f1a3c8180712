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
 *
 * Written by hand for the plain data the renderers produce (objects, arrays, strings, finite numbers,
 * booleans): block mappings and sequences, every string value a double-quoted scalar in JSON's escaping
 * (which YAML's double-quoted style accepts), keys plain when they cannot be read as anything but a string. The general-purpose YAML writer was a fifth of a 10,000-app
 * rebuild's CPU time.
 */
export function serializeTraefikConfig(config: object): string {
  assertNoTemplateDelimiter(config, '');
  const lines: string[] = [];
  emitMapping(config as Record<string, unknown>, '', lines, '');
  const text = `${lines.join('\n')}\n`;
  // The check above covers every string; this one also covers anything the writer itself produces.
  if (text.includes('{{')) throw new TemplateDelimiterError('/', text);
  return text;
}

function emitMapping(value: Record<string, unknown>, indent: string, lines: string[], path: string): void {
  for (const key of Object.keys(value).sort()) {
    const item = value[key];
    if (item === undefined) continue;
    emitEntry(`${indent}${mappingKey(key)}:`, item, indent, lines, `${path}/${key}`);
  }
}

/** Emits `head` followed by `item`: inline when scalar or empty, else as a nested block. */
function emitEntry(head: string, item: unknown, indent: string, lines: string[], path: string): void {
  if (Array.isArray(item)) {
    if (item.length === 0) {
      lines.push(`${head} []`);
      return;
    }
    lines.push(head);
    const inner = `${indent}  `;
    item.forEach((element, index) => {
      const elementPath = `${path}/${index}`;
      if (element !== null && typeof element === 'object' && !Array.isArray(element)) {
        if (Object.keys(element).length > 0) {
          // `- key: value` with the mapping's other keys aligned under the first.
          const first = lines.length;
          emitMapping(element as Record<string, unknown>, `${inner}  `, lines, elementPath);
          lines[first] = `${inner}- ${lines[first]!.slice(inner.length + 2)}`;
          return;
        }
      }
      emitEntry(`${inner}-`, element, inner, lines, elementPath);
    });
  } else if (item !== null && typeof item === 'object') {
    if (Object.keys(item).length === 0) {
      lines.push(`${head} {}`);
      return;
    }
    lines.push(head);
    emitMapping(item as Record<string, unknown>, `${indent}  `, lines, path);
  } else {
    lines.push(`${head} ${scalar(item, path)}`);
  }
}

/** Words YAML 1.1 or 1.2 would read as booleans or null when plain. */
const RESERVED_PLAIN = /^(true|false|null|yes|no|on|off|y|n)$/i;
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function mappingKey(key: string): string {
  return PLAIN_KEY.test(key) && !RESERVED_PLAIN.test(key) ? key : JSON.stringify(key);
}

function scalar(value: unknown, path: string): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new TypeError(`cannot write ${String(value)} at ${path || '/'} into a Traefik file`);
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
