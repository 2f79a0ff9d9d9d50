import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: dependencies stay external.
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    shims: true,
    target: 'node20',
  },
  {
    // The CLI: pure-JS dependencies are bundled in, which roughly halves module loading at start.
    // Packages that load WebAssembly or native files by relative path stay external, and so does
    // unpdf (2.6 MB of pdf.js, loaded only when a PDF is processed).
    entry: { cli: 'src/cli.ts', 'pglite-worker': 'src/db/pglite-worker.ts' },
    outDir: 'dist/cli',
    format: ['esm'],
    sourcemap: true,
    // Smaller source parses faster: start-up is dominated by compiling this bundle and booting PGlite.
    minify: true,
    shims: true,
    target: 'node20',
    noExternal: [/^(?!@prisma\/|@electric-sql\/|pglite-prisma-adapter|pg$|pg-|unpdf$|\.prisma).*/],
    banner: {
      js: "import { createRequire as __troupeCreateRequire } from 'node:module'; const require = __troupeCreateRequire(import.meta.url);",
    },
  },
]);
