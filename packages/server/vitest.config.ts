import { defineConfig } from 'vitest/config';

// The same suite runs on both backends: embedded PGlite and Postgres. TROUPE_TEST_BACKEND picks one.
const only = process.env.TROUPE_TEST_BACKEND;
const backends = only ? [only] : ['pglite', 'postgres'];

export default defineConfig({
  // One copy of graphql: vite would resolve src's `import 'graphql'` to index.mjs while graphql-yoga
  // and Pothos (loaded by Node) get index.js, and yoga would then mask every GraphQLError we throw
  // (instanceof fails) as INTERNAL_SERVER_ERROR — in tests only; Node resolves one copy in production.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    projects: backends.map((backend) => ({
      extends: true,
      test: {
        name: backend,
        include: ['test/**/*.test.ts'],
        env: { TROUPE_TEST_BACKEND: backend },
        testTimeout: 60_000,
        hookTimeout: 120_000,
        fileParallelism: false,
        globalSetup: ['./test/global-setup.ts'],
      },
    })),
  },
});
