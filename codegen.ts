import { fileURLToPath } from 'node:url';
import type { CodegenConfig } from '@graphql-codegen/cli';

// Paths are absolute so the config works from any working directory
// (`npm run generate` runs it from packages/sdk via turbo).
const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Typed documents for @troupe/sdk from the committed schema.graphql.
 *
 * - documentMode 'string': documents are plain strings carrying their result and variable types
 *   (TypedDocumentString), so the SDK needs no graphql-js at runtime.
 * - fragmentMasking off and enums as string-literal unions: no runtime helpers, no enum objects.
 */
const config: CodegenConfig = {
  schema: root('./schema.graphql'),
  documents: [root('./packages/sdk/src/**/*.ts'), `!${root('./packages/sdk/src/generated/**')}`],
  ignoreNoDocuments: false,
  generates: {
    [root('./packages/sdk/src/generated/')]: {
      preset: 'client',
      presetConfig: { gqlTagName: 'graphql', fragmentMasking: false },
      config: {
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: true,
        strictScalars: true,
        scalars: { ID: 'string', DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
