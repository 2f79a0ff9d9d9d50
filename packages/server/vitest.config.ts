import { defineConfig } from 'vitest/config';

// The same suite runs on both backends: embedded PGlite and Postgres. TROUPE_TEST_BACKEND picks one.
const only = process.env.TROUPE_TEST_BACKEND;
const backends = only ? [only] : ['pglite', 'postgres'];

export default defineConfig({
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
