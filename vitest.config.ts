import { defineConfig } from 'vitest/config';

// One config for the whole repo; a workspace runs only its own files with `--root .`.
export default defineConfig({
  test: {
    include: ['**/src/**/*.test.ts', '**/test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files each get their own database and NATS server, so they can run side by side.
    pool: 'forks',
  },
});
