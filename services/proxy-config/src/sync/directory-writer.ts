import { certificateKeyContext, type SecretBox } from '@gatehouse/pki';
import {
  appFileName,
  CORE_FILE_NAME,
  createTraefikValidator,
  ON_DEMAND_FILE_NAME,
  renderAppConfig,
  renderCoreConfig,
  renderOnDemandConfig,
  validateTraefikConfig,
} from '../traefik/index.ts';
import type { PemPair } from './default-certificate.ts';
import { type AppModel, choiceKeyContext } from './load-app.ts';
import type { OnDemandHostModel } from './load-on-demand.ts';
import { type DirectoryMemory, startWriteBurst } from './write-burst.ts';

export interface DirectoryWriterOptions {
  dynamicDir: string;
  certsDir: string;
  /** The certificates directory as Traefik sees it (differs when mounted elsewhere in its container). */
  certsDirForTraefik?: string;
  http01ResponderUrl: string;
  /** cert-issuer's on-demand TLS terminator as Traefik reaches it (host:port); unset: no catch-all router. */
  onDemandTerminator?: string;
  /** Where Traefik sends issued on-demand hosts; unset: no on-demand file (they stay on the terminator). */
  onDemandUpstreamUrl?: string;
  schemaPath?: string;
  /** Decrypts certificate keys; only keys whose file is not already known are opened. */
  box: SecretBox;
}

/** What one app's file references: its YAML name and the PEM file names it lists. */
export interface AppFiles {
  file: string;
  pems: string[];
}

export type DirectoryWriter = ReturnType<typeof createDirectoryWriter>;

/**
 * Writes Traefik's directory: content-addressed PEM files first (mode 0600 for keys), then YAML that
 * references them — each file rendered, validated against the Traefik v3 schema, refused if invalid,
 * written atomically and only when its bytes change (see write-burst.ts for how a burst lands).
 *
 * This module says WHAT each file holds (core, on-demand, one per app); the burst says HOW files are written.
 * It remembers a hash of every file it wrote or found, so an unchanged file costs a hash, not a read. The
 * memory is a cache of the disk, never the other way round: a full pass (`verifyDisk`) lists the directories
 * and rewrites what is missing, so a lost volume heals.
 */
export function createDirectoryWriter(options: DirectoryWriterOptions) {
  const validate = options.schemaPath ? createTraefikValidator(options.schemaPath) : validateTraefikConfig;
  const memory: DirectoryMemory = { known: new Map(), keyFileBySealed: new Map() };

  async function startBurst(burstOptions: { verifyDisk?: boolean } = {}) {
    const burst = await startWriteBurst(
      {
        dynamicDir: options.dynamicDir,
        certsDir: options.certsDir,
        certsForTraefik: options.certsDirForTraefik ?? options.certsDir,
        validate,
        box: options.box,
        verifyDisk: burstOptions.verifyDisk === true,
      },
      memory,
    );
    return {
      /** Writes the core file and the default certificate's PEMs; returns those PEM names. */
      async writeCore(defaultCertificate: PemPair): Promise<string[]> {
        const pems = await burst.writePems(defaultCertificate.certPem, { pem: defaultCertificate.keyPem });
        await burst.writeYaml(
          CORE_FILE_NAME,
          renderCoreConfig({
            http01ResponderUrl: options.http01ResponderUrl,
            onDemandTerminator: options.onDemandTerminator,
            defaultCertificate: pems.files,
          }),
        );
        return pems.names;
      },
      /**
       * Writes the on-demand file (a router and certificate per issued on-demand host) and its PEMs; returns the
       * PEM names. Nothing when no on-demand upstream is configured.
       */
      async writeOnDemand(hosts: readonly OnDemandHostModel[]): Promise<string[]> {
        const upstreamUrl = options.onDemandUpstreamUrl;
        if (!upstreamUrl) return [];
        const pemNames: string[] = [];
        const rendered = [];
        for (const host of hosts) {
          const pems = await burst.writePems(host.chainPem, {
            sealed: host.keySealed,
            context: certificateKeyContext(host.certificateId),
          });
          pemNames.push(...pems.names);
          rendered.push({ hostname: host.hostname, certificate: pems.files });
        }
        await burst.writeYaml(ON_DEMAND_FILE_NAME, renderOnDemandConfig({ upstreamUrl, hosts: rendered }));
        return pemNames;
      },
      /**
       * Writes one app's PEMs and file; undefined (nothing written) when it has no upstream yet, or neither a
       * domain nor a TCP port.
       */
      async writeApp(app: AppModel): Promise<AppFiles | undefined> {
        if (!app.upstream || (app.domains.length === 0 && app.tcp.length === 0)) return undefined;
        const pemNames: string[] = [];
        const certificates = [];
        for (const choice of app.certificates) {
          const pems = await burst.writePems(choice.certPem, {
            sealed: choice.keySealed,
            context: choiceKeyContext(choice),
          });
          pemNames.push(...pems.names);
          certificates.push(pems.files);
        }
        const file = appFileName(app.slug);
        await burst.writeYaml(
          file,
          renderAppConfig({
            slug: app.slug,
            upstream: app.upstream,
            domains: app.domains,
            certificates,
            tcp: app.tcp,
          }),
        );
        return { file, pems: pemNames };
      },
      removeYaml: burst.removeYaml,
      removePem: burst.removePem,
      removeOrphans: burst.removeOrphans,
      finish: burst.finish,
      abort: burst.abort,
    };
  }

  return { startBurst };
}

export type WriteBurst = Awaited<ReturnType<DirectoryWriter['startBurst']>>;
