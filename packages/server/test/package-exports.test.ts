import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { BACKEND } from './support/backend.js';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: pkg, encoding: 'utf8' });

// Backend-independent: once is enough.
test.runIf(BACKEND === 'pglite')('the built package loads through require() and import alike', () => {
  const cjs = run([
    '-e',
    "const s = require('./dist/index.cjs'); console.log(JSON.stringify(Object.keys(s).sort()))",
  ]);
  const esm = run([
    '--input-type=module',
    '-e',
    "const s = await import('./dist/index.js'); console.log(JSON.stringify(Object.keys(s).sort()))",
  ]);
  expect(JSON.parse(cjs)).toEqual(JSON.parse(esm));
  expect(JSON.parse(esm)).toEqual(
    expect.arrayContaining(['startTroupeServer', 'loadConfig', 'applyMigrations', 'printTroupeSchema']),
  );
  const sdl = run(['-e', "process.stdout.write(require('./dist/index.cjs').printTroupeSchema())"]);
  expect(sdl).toMatch(/createCrew\(input: CreateCrewInput!\): CreateCrewPayload!/);
});

test.runIf(BACKEND === 'pglite')('the published files include the CLI, the migrations and the types', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: pkg, encoding: 'utf8' });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const f of [
    'bin/troupe.mjs',
    'dist/index.js',
    'dist/index.cjs',
    'dist/index.d.ts',
    'dist/index.d.cts',
    'dist/cli/cli.js',
    'prisma/schema.prisma',
  ]) {
    expect(files).toContain(f);
  }
  expect(files.some((f) => /^prisma\/migrations\/\d+_init\/migration\.sql$/.test(f))).toBe(true);
});
