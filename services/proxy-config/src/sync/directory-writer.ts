import { join } from 'node:path';
import {
  APP_FILE_PATTERN,
  appFileName,
  CORE_FILE_NAME,
  createTraefikValidator,
  PEM_FILE_PATTERN,
  pemFileNames,
  removeOrphans,
  renderAppConfig,
  renderCoreConfig,
  serializeTraefikConfig,
  type TraefikDynamicConfig,
  validateTraefikConfig,
  writeFileAtomic,
} from '../traefik/index.ts';
import type { PemPair } from './default-certificate.ts';
import type { AppModel } from './load-app.ts';

export interface DirectoryWriterOptions {
  dynamicDir: string;
  certsDir: string;
  /** The certificates directory as Traefik sees it (differs when mounted elsewhere in its container). */
  certsDirForTraefik?: string;
  http01ResponderUrl: string;
  schemaPath?: string;
}

/**
 * Writes Traefik's directory: content-addressed PEM files first (mode 0600 for keys), then YAML that
 * references them — each file rendered, validated against the Traefik v3 schema, refused if invalid,
 * written atomically and only when its bytes change. Returns the names of files written or removed.
 */
export function createDirectoryWriter(options: DirectoryWriterOptions) {
  const validator = options.schemaPath ? createTraefikValidator(options.schemaPath) : validateTraefikConfig;
  const certsForTraefik = options.certsDirForTraefik ?? options.certsDir;

  async function writePems(pair: PemPair, changed: string[]) {
    const names = pemFileNames(pair.certPem, pair.keyPem);
    if (
      (await writeFileAtomic(options.certsDir, names.certFile, pair.certPem, { mode: 0o644 })) === 'written'
    ) {
      changed.push(names.certFile);
    }
    if (
      (await writeFileAtomic(options.certsDir, names.keyFile, pair.keyPem, { mode: 0o600 })) === 'written'
    ) {
      changed.push(names.keyFile);
    }
    return {
      certFile: join(certsForTraefik, names.certFile),
      keyFile: join(certsForTraefik, names.keyFile),
      names,
    };
  }

  async function writeYaml(name: string, config: TraefikDynamicConfig, changed: string[]) {
    const verdict = validator(config);
    if (!verdict.ok) throw new Error(`refusing to write ${name}: ${verdict.errors.join('; ')}`);
    if ((await writeFileAtomic(options.dynamicDir, name, serializeTraefikConfig(config))) === 'written')
      changed.push(name);
  }

  return {
    async writeCore(defaultCertificate: PemPair): Promise<{ changed: string[]; pemNames: string[] }> {
      const changed: string[] = [];
      const files = await writePems(defaultCertificate, changed);
      await writeYaml(
        CORE_FILE_NAME,
        renderCoreConfig({ http01ResponderUrl: options.http01ResponderUrl, defaultCertificate: files }),
        changed,
      );
      return { changed, pemNames: [files.names.certFile, files.names.keyFile] };
    },
    /** Writes one app's file (or removes it when the app has no upstream yet). Returns its PEM names. */
    async writeApp(app: AppModel, changed: string[]): Promise<string[]> {
      if (!app.upstream || app.domains.length === 0) return [];
      const pemNames: string[] = [];
      const certificates = [];
      for (const pair of app.certificates) {
        const files = await writePems(pair, changed);
        pemNames.push(files.names.certFile, files.names.keyFile);
        certificates.push({ certFile: files.certFile, keyFile: files.keyFile });
      }
      await writeYaml(
        appFileName(app.slug),
        renderAppConfig({ slug: app.slug, upstream: app.upstream, domains: app.domains, certificates }),
        changed,
      );
      return pemNames;
    },
    /** Removes YAML and PEM files no longer wanted (apps deleted, certificates replaced). */
    async removeOrphans(keepYaml: Set<string>, keepPems: Set<string>): Promise<string[]> {
      const removedYaml = await removeOrphans(options.dynamicDir, keepYaml, APP_FILE_PATTERN);
      const removedPems = await removeOrphans(options.certsDir, keepPems, PEM_FILE_PATTERN);
      return [...removedYaml, ...removedPems];
    },
  };
}
