export { type AriProxy, opensslAriCertId, startAriProxy } from './ari-proxy.ts';
export { makeCertificateChain, type TestCertificateChain } from './certificate-chain.ts';
export { insertCertificateRow } from './certificate-row.ts';
export {
  type CaaPolicy,
  type ChalltestsrvClient,
  challtestsrv,
  challtestsrvClient,
  type DnsRequestEvent,
} from './challtestsrv.ts';
export { startNatsServer, type TestNatsServer } from './nats-server.ts';
export { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.ts';
export { type PebbleOptions, type PebbleResponse, startPebble, type TestPebble } from './pebble.ts';
export { freePort, waitForPort } from './ports.ts';
export { buildTcpProxyStandInImage, tcpProxyStandInImage } from './tcp-proxy-stand-in.ts';
export { createTestDatabase, type TestDatabase, testbedPostgresUrl } from './test-database.ts';
export { createTestRoles, type TestRoles } from './test-roles.ts';
export { tlsHandshake } from './tls-handshake.ts';
export { readVendoredFileDigest, type VendoredFileDigest } from './vendored-file.ts';
export { waitFor } from './wait-for.ts';
