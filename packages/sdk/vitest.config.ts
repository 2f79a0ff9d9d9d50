import { defineConfig } from 'vitest/config';

// Tests that run a real @troupe/server run on both backends, like the server's own suite:
// embedded PGlite with the in-process event bus, and Postgres with the Redis event bus.
// TROUPE_TEST_BACKEND picks one.
const only = process.env.TROUPE_TEST_BACKEND;
const serverTests = [
  'test/runs.test.ts',
  'test/threads.test.ts',
  'test/documents.test.ts',
  'test/shared-websocket.test.ts',
];

export default defineConfig({
  // One copy of graphql for the server and graphql-yoga (see the server's vitest config), or yoga
  // masks every expected error as INTERNAL_SERVER_ERROR.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      ...(only === 'postgres'
        ? []
        : [
            {
              extends: true as const,
              test: {
                name: 'sdk',
                include: ['test/**/*.test.ts'],
                env: { TROUPE_TEST_BACKEND: 'pglite' },
                typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
              },
            },
          ]),
      ...(only === 'pglite'
        ? []
        : [
            {
              extends: true as const,
              test: { name: 'sdk-postgres', include: serverTests, env: { TROUPE_TEST_BACKEND: 'postgres' } },
            },
          ]),
    ],
  },
});
