import { defineConfig } from 'tsup';

/**
 * graphql-js checks, outside NODE_ENV=production, that each of its many `instanceof` tests did not
 * fail because of a second copy of graphql, and reads the value's class name whenever one fails
 * (~0.7% of `troupe dev`'s CPU on trivial runs). The CLI bundles exactly one copy: the check can
 * never fire there, so it gets the plain test that production gets.
 */
const graphqlPlainInstanceOf = {
  name: 'graphql-plain-instanceof',
  setup(build: { onLoad: (o: { filter: RegExp }, cb: () => { contents: string; loader: 'js' }) => void }) {
    build.onLoad({ filter: /[\\/]graphql[\\/]jsutils[\\/]instanceOf\.m?js$/ }, () => ({
      contents: 'export const instanceOf = (value, constructor) => value instanceof constructor;',
      loader: 'js',
    }));
  },
};

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
    entry: { cli: 'src/cli.ts', 'pglite-worker': 'src/db/pglite-worker.ts', relaunch: 'src/relaunch.ts' },
    outDir: 'dist/cli',
    format: ['esm'],
    sourcemap: true,
    // Smaller source parses faster: start-up is dominated by compiling this bundle and booting PGlite.
    // TSUP_NO_MINIFY=1: readable function names in CPU profiles of the benches (BENCH_PROF).
    minify: !process.env.TSUP_NO_MINIFY,
    shims: true,
    target: 'node20',
    esbuildPlugins: [graphqlPlainInstanceOf],
    noExternal: [/^(?!@prisma\/|@electric-sql\/|pglite-prisma-adapter|pg$|pg-|unpdf$|\.prisma).*/],
    banner: {
      js: "import { createRequire as __troupeCreateRequire } from 'node:module'; const require = __troupeCreateRequire(import.meta.url);",
    },
  },
]);
