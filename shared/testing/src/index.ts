export { startNatsServer, type TestNatsServer } from './nats-server.ts';
export { freePort, waitForPort } from './ports.ts';
export { createTestDatabase, type TestDatabase, testbedPostgresUrl } from './test-database.ts';
export { waitFor } from './wait-for.ts';
