import { parseArgs } from 'node:util';

// The `troupe` command line, shared by the CLI and by the relaunch check that runs before the
// CLI's bundle loads (see relaunch.ts): only node: modules here.

export const CLI_OPTIONS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'no-migrate': { type: 'boolean' },
  graphiql: { type: 'boolean' },
  status: { type: 'boolean' },
  concurrency: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export function parseCliArgs(args: readonly string[]) {
  return parseArgs({ args: [...args], allowPositionals: true, options: CLI_OPTIONS });
}

/** The command `troupe` would run with these arguments (`dev`, `serve`…), or undefined (bad arguments, none). */
export function commandOf(args: readonly string[]): string | undefined {
  try {
    return parseCliArgs(args).positionals[0];
  } catch {
    return undefined;
  }
}
