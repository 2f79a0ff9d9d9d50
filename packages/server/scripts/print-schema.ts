// Prints the Pothos schema to the repository's schema.graphql. With --check, fails when the
// committed file differs (CI).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { printTroupeSchema } from '../src/graphql/schema.js';

const file = path.resolve(
  import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname),
  '../../../schema.graphql',
);
const sdl = printTroupeSchema();
if (process.argv.includes('--check')) {
  const committed = readFileSync(file, 'utf8');
  if (committed !== sdl) {
    console.error('schema.graphql is out of date: run `npm run generate` and commit it.');
    process.exit(1);
  }
  console.log('schema.graphql is up to date');
} else {
  writeFileSync(file, sdl);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
