/**
 * Keys of the `settings` table that more than one service reads, in one place so a writer and its readers
 * cannot drift apart (the api writes them; proxy-config, renewal-scheduler and the notifier read them).
 */
export const settingKeys = {
  /** The operator's fallback wildcard: a valid custom certificate's id (a JSON string). */
  fallbackCertificateId: 'fallback_certificate_id',
  /** Admin mail addresses (a JSON array), merged with ADMIN_EMAILS by the notifier. */
  adminEmails: 'admin_emails',
} as const;
