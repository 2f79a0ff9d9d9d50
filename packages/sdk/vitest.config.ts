import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run a real @troupe/server: one copy of graphql for it and graphql-yoga (see the server's
  // vitest config), or yoga masks every expected error as INTERNAL_SERVER_ERROR.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
