// Bundle size (minified, gzip) of what an app ships for each import, measured with esbuild the
// same way for Troupe's packages and for comparable clients. Run after `npm run build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Case {
  what: string;
  code: string;
  external?: string[];
  /** Count the lazily imported chunks whose file name matches too (what a page that streams loads). */
  lazyChunks?: RegExp;
  goalBytes?: number;
}

const react = ['react', 'react-dom', 'react/jsx-runtime'];
const cases: Case[] = [
  {
    what: '@troupe/sdk core: createTroupeClient (no stream transport)',
    code: "import { createTroupeClient } from '@troupe/sdk'; export const c = createTroupeClient;",
    goalBytes: 10 * 1024,
  },
  {
    what: '@troupe/sdk with streaming (WebSocket + SSE, lazy chunk included)',
    code: "import { createTroupeClient, collectText, accumulateRun } from '@troupe/sdk'; export { createTroupeClient, collectText, accumulateRun };",
    lazyChunks: /resumable-stream/,
  },
  {
    what: '@troupe/sdk with document uploads (upload chunk included)',
    code: "import { createTroupeClient } from '@troupe/sdk'; export const c = createTroupeClient;",
    lazyChunks: /document-upload/,
  },
  {
    what: '@troupe/react (all hooks; react and @troupe/sdk external)',
    code: "export * from '@troupe/react';",
    external: [...react, '@troupe/sdk'],
    goalBytes: 4 * 1024,
  },
  {
    what: 'graphql-request: GraphQLClient (graphql-js bundled, as apps ship it)',
    code: "import { GraphQLClient } from 'graphql-request'; export const c = GraphQLClient;",
  },
  {
    what: 'graphql-request: GraphQLClient (graphql external)',
    code: "import { GraphQLClient } from 'graphql-request'; export const c = GraphQLClient;",
    external: ['graphql'],
  },
  {
    what: '@langchain/langgraph-sdk: Client',
    code: "import { Client } from '@langchain/langgraph-sdk'; export const c = Client;",
    external: ['@langchain/core', ...react],
  },
  {
    what: '@langchain/langgraph-sdk/react: useStream (react external)',
    code: "export { useStream } from '@langchain/langgraph-sdk/react';",
    external: ['@langchain/core', ...react],
  },
];

/** Bytes of the entry, the chunks it imports statically and the lazy chunks asked for, minified and gzipped per file. */
async function measure(c: Case): Promise<{ minBytes: number; gzipBytes: number } | { error: string }> {
  try {
    const result = await build({
      stdin: { contents: c.code, resolveDir: here, loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      minify: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outdir: path.join(here, '.out'),
      write: false,
      metafile: true,
      logLevel: 'silent',
      external: c.external ?? [],
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const meta = result.metafile as Metafile;
    const byPath = new Map(result.outputFiles.map((f) => [path.relative(process.cwd(), f.path), f.contents]));
    const entry = Object.keys(meta.outputs).find(
      (o) => meta.outputs[o]?.entryPoint !== undefined && o.endsWith('.js'),
    );
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const i of meta.outputs[file]?.imports ?? []) {
        if (i.external) continue;
        if (i.kind === 'import-statement' || c.lazyChunks?.test(path.basename(i.path))) visit(i.path);
      }
    };
    visit(entry as string);
    let minBytes = 0;
    let gzipBytes = 0;
    for (const file of seen) {
      const contents = byPath.get(file);
      if (!contents) continue;
      minBytes += contents.length;
      gzipBytes += gzipSync(contents, { level: 9 }).length;
    }
    return { minBytes, gzipBytes };
  } catch (error) {
    return { error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

const rows = [];
for (const c of cases) {
  const r = await measure(c);
  rows.push({
    what: c.what,
    ...('error' in r
      ? { minKB: null, gzipKB: null, goalKB: null, error: r.error }
      : {
          minKB: +(r.minBytes / 1024).toFixed(2),
          gzipKB: +(r.gzipBytes / 1024).toFixed(2),
          goalKB: c.goalBytes ? c.goalBytes / 1024 : null,
          meetsGoal: c.goalBytes ? r.gzipBytes < c.goalBytes : null,
        }),
  });
}
console.table(rows);
const out = path.resolve(here, '../bench-results');
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'bundle-size.json'),
  `${JSON.stringify({ esbuild: 'minify, esm, splitting, gzip -9 per file', rows }, null, 2)}\n`,
);
