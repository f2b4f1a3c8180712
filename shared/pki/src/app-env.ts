import { appEnvContext, type SecretBox } from './secret-box.ts';

/** An app's env sealed for the `apps.env_sealed` column. */
export function sealAppEnv(box: SecretBox, appId: string, env: Readonly<Record<string, string>>): string {
  return box.seal(JSON.stringify(env), appEnvContext(appId));
}

/**
 * An app's env from its row: the sealed column when set, else the legacy plaintext column (rows written before
 * migration 0008 and not yet sealed by the api). Throws SecretBoxError when the sealed value does not open.
 */
export function openAppEnv(
  box: SecretBox,
  row: { id: string; env: Record<string, string> | null; env_sealed: string | null },
): Record<string, string> {
  if (row.env_sealed === null) return { ...(row.env ?? {}) };
  const parsed: unknown = JSON.parse(box.openText(row.env_sealed, appEnvContext(row.id)));
  const env: Record<string, string> = {};
  if (typeof parsed === 'object' && parsed !== null)
    for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') env[key] = value;
  return env;
}
