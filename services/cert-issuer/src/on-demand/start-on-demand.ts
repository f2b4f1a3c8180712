import type { Server } from 'node:net';
import { ConfigError } from '@gatehouse/config';
import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import { type OnDemandConfig, type OnDemandSettings, onDemandSettings } from './on-demand-config.ts';
import { createOnDemandTerminator } from './on-demand-terminator.ts';

/**
 * The on-demand settings, read before anything else starts. A listener without its ask URL (or upstream) is a
 * configuration error: the process exits 78 with the message, as for any other bad variable, instead of
 * issuing for any name.
 */
export function onDemandSettingsOrExit(config: OnDemandConfig): OnDemandSettings | undefined {
  try {
    return onDemandSettings(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`cert-issuer: ${error.message}\n`);
    process.exit(78);
  }
}

/** Starts the on-demand TLS terminator when it is configured; undefined when the feature is off. */
export async function startOnDemandTls(options: {
  settings: OnDemandSettings | undefined;
  db: Db;
  box: SecretBox;
  logger: Logger;
  wakeIssuer: () => void;
}): Promise<{ stop(): Promise<void> } | undefined> {
  const settings = options.settings;
  if (!settings) return undefined;
  const terminator = createOnDemandTerminator({ ...options, settings });
  await listenOn(terminator.server, settings.listen.host, settings.listen.port);
  options.logger.info(
    { host: settings.listen.host, port: settings.listen.port, ask_url: settings.askUrl.origin },
    'on-demand TLS terminator listening',
  );
  return { stop: () => terminator.stop() };
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`${host}:${port} is already in use; choose another port`)
          : error,
      ),
    );
    server.listen(port, host, () => resolve());
  });
}
