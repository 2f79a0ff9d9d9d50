// Generates the Prisma client and Pothos types offline, then prints schema.graphql.
// The Prisma CLI wants a native schema engine it cannot download here; `generate` never uses it.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/true',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
};
// generators (prisma-pothos-types) are looked up on PATH
env.PATH = [path.resolve('node_modules/.bin'), path.resolve('../../node_modules/.bin'), env.PATH].join(
  path.delimiter,
);
execFileSync(process.execPath, [require.resolve('prisma/build/index.js'), 'generate'], {
  stdio: 'inherit',
  env,
});
if (!process.argv.includes('--prisma-only')) {
  execFileSync(process.execPath, [require.resolve('tsx/cli'), 'scripts/print-schema.ts'], {
    stdio: 'inherit',
    env,
  });
}
