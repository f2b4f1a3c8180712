import type { Migration } from 'kysely/migration';
import * as initial from './0001-initial.ts';
import * as issuance from './0002-issuance.ts';
import * as appsApi from './0003-apps-api.ts';
import * as fallback from './0004-fallback.ts';
import * as notifier from './0005-notifier.ts';
import * as renewal from './0006-renewal.ts';
import * as dashboard from './0007-dashboard.ts';
import * as appSecurity from './0008-app-security.ts';
import * as onDemandTls from './0010-on-demand-tls.ts';
import * as appKeyType from './0012-app-key-type.ts';
import * as localCa from './0013-local-ca.ts';
import * as appTcpPorts from './0014-app-tcp-ports.ts';
import * as acmeProfiles from './0015-acme-profiles.ts';
import * as advisoryLocksInOrder from './0016-advisory-locks-in-order.ts';
import * as claimIssuanceJobs from './0017-claim-issuance-jobs.ts';
import * as reserveRateLimits from './0018-reserve-rate-limits.ts';
import * as tcpProxyStates from './0019-tcp-proxy-states.ts';
import * as releasedCertificates from './0020-released-certificates.ts';

/** Every migration in order. Names sort lexicographically; append, never rename or edit. */
export const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-issuance': issuance,
  '0003-apps-api': appsApi,
  '0004-fallback': fallback,
  '0005-notifier': notifier,
  '0006-renewal': renewal,
  '0007-dashboard': dashboard,
  '0008-app-security': appSecurity,
  '0010-on-demand-tls': onDemandTls,
  '0012-app-key-type': appKeyType,
  '0013-local-ca': localCa,
  '0014-app-tcp-ports': appTcpPorts,
  '0015-acme-profiles': acmeProfiles,
  '0016-advisory-locks-in-order': advisoryLocksInOrder,
  '0017-claim-issuance-jobs': claimIssuanceJobs,
  '0018-reserve-rate-limits': reserveRateLimits,
  '0019-tcp-proxy-states': tcpProxyStates,
  '0020-released-certificates': releasedCertificates,
};
