import { z } from 'zod';

const maxAdminEmails = 50;

/** `PUT /v1/settings/admin-emails`: addresses are trimmed here; lower-cased and de-duplicated by the route. */
export const adminEmailsSchema = z.strictObject({
  emails: z
    .array(
      z
        .string()
        .trim()
        .pipe(z.email('is not an email address such as ops@example.com'))
        .meta({ description: 'An address such as ops@example.com' }),
    )
    .max(maxAdminEmails, `at most ${maxAdminEmails} addresses`),
});

/** `PUT /v1/settings/fallback-certificate`: which uploaded wildcard serves names that have no certificate. */
export const fallbackCertificateSchema = z.strictObject({
  certificateId: z
    .uuid('must be a certificate id (uuid)')
    .meta({ description: 'The id of an uploaded, valid wildcard certificate (GET /v1/certificates)' }),
});
