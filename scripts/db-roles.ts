/**
 * Prints the SQL that creates one Postgres role per service and grants it exactly its row of
 * shared/db/src/database-grants.ts, without passwords (set them with `alter role … password`, or let
 * `npm run migrate` with DB_ROLE_PASSWORDS_DIR apply the same SQL with the passwords from secret files):
 *
 *   npm run db-roles [-- <database> [<role prefix>]]     # defaults: gatehouse gatehouse_
 *   npm run db-roles | psql "$OWNER_DATABASE_URL"        # after `npm run migrate`, as the schema owner
 */
import { databaseServices, renderRolesSql, roleName } from '@gatehouse/db';

const [database = 'gatehouse', prefix = 'gatehouse_'] = process.argv.slice(2);
process.stdout.write(
  renderRolesSql({
    database,
    roles: databaseServices.map((service) => ({ service, role: roleName(prefix, service) })),
  }),
);
