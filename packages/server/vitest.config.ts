import { defineConfig } from 'vitest/config';

// The same suite runs on both backends: embedded PGlite and Postgres. TROUPE_TEST_BACKEND picks one.
const only = process.env.TROUPE_TEST_BACKEND;
const backends = only ? [only] : ['pglite', 'postgres'];
// The run and thread contract also runs with runs on a BullMQ worker (Postgres + Redis).
const CONTRACT = ['test/runs.test.ts', 'test/threads.test.ts', 'test/websocket-subscriptions.test.ts'];
const withWorkers = !only || only === 'postgres';
// Tests that touch no database run once, in the pglite project (when both run).
const BACKEND_FREE = [
  'test/claim-loop.test.ts',
  'test/config.test.ts',
  'test/data-dir-lock.test.ts',
  'test/extract-text.test.ts',
  'test/pglite-worker-host.test.ts',
  'test/run-fairness.test.ts',
  'test/stop-signals.test.ts',
];

export default defineConfig({
  // One copy of graphql: vite would resolve src's `import 'graphql'` to index.mjs while graphql-yoga
  // and Pothos (loaded by Node) get index.js, and yoga would then mask every GraphQLError we throw
  // (instanceof fails) as INTERNAL_SERVER_ERROR — in tests only; Node resolves one copy in production.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    projects: [
      ...backends.map((backend) => ({
        extends: true as const,
        test: {
          name: backend,
          include: ['test/**/*.test.ts'],
          exclude: backend === 'postgres' && !only ? BACKEND_FREE : [],
          env: { TROUPE_TEST_BACKEND: backend },
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // One module graph for the whole run, not one per file: the server's modules load once.
          // Each file still starts its own servers and databases and closes them (the suite takes
          // about 40% less time).
          isolate: false,
          globalSetup: ['./test/global-setup.ts'],
        },
      })),
      ...(withWorkers
        ? [
            {
              extends: true as const,
              test: {
                name: 'workers',
                include: CONTRACT,
                env: { TROUPE_TEST_BACKEND: 'postgres', TROUPE_TEST_EXECUTION: 'workers' },
                testTimeout: 60_000,
                hookTimeout: 120_000,
                fileParallelism: false,
                isolate: false,
                globalSetup: ['./test/global-setup.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
