import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The SDK runs in browsers and edge runtimes: its sources may use web APIs only.
const srcDir = join(import.meta.dirname, '..', 'src');
const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));

describe('sources', () => {
  it.each(files)('%s imports no Node built-ins and no graphql-js at runtime', (file) => {
    const text = readFileSync(join(srcDir, file), 'utf8');
    const runtimeImports = [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+['"]([^'"]+)['"]/gm)].map(
      (m) => m[1],
    );
    for (const specifier of runtimeImports) expect(specifier).toMatch(/^\.{1,2}\//);
    expect(text).not.toMatch(/\b(process\.|Buffer\.|require\(|__dirname)/);
  });
});
