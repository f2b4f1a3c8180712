import { type Db, settingKeys } from '@gatehouse/db';
import { z } from 'zod';

const addresses = z.array(z.email());

/**
 * Who gets mail: ADMIN_EMAILS plus the list set through the API, read at send time so a change applies to
 * the next mail. A malformed setting is ignored (the API validates what it stores; this only guards).
 */
export async function adminRecipients(db: Db, fromEnvironment: readonly string[]): Promise<string[]> {
  const setting = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', settingKeys.adminEmails)
    .executeTakeFirst();
  const fromSettings = addresses.safeParse(setting?.value);
  const all = [...fromEnvironment, ...(fromSettings.success ? fromSettings.data : [])];
  // One mail per mailbox: the first spelling of an address wins (domain parts are case-insensitive).
  const unique = new Map<string, string>();
  for (const address of all)
    if (!unique.has(address.toLowerCase())) unique.set(address.toLowerCase(), address);
  return [...unique.values()];
}
