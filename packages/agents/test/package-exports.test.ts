import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built =
  existsSync(join(root, 'dist', 'index.js')) && existsSync(join(root, 'dist', 'testing', 'index.cjs'));

// Runs against the build output (turbo builds before testing); skipped in a fresh checkout without dist/.
describe.skipIf(!built)('published entry points', () => {
  const run = (args: string[]) =>
    execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

  it('imports in ESM and CJS, main and /testing entries, with the same public names', () => {
    const esm = run([
      '--input-type=module',
      '-e',
      "const a = await import('@troupe/agents'); const t = await import('@troupe/agents/testing'); console.log(JSON.stringify([Object.keys(a).sort(), Object.keys(t).sort()]))",
    ]);
    const cjs = run([
      '-e',
      "const a = require('@troupe/agents'); const t = require('@troupe/agents/testing'); console.log(JSON.stringify([Object.keys(a).sort(), Object.keys(t).sort()]))",
    ]);
    expect(JSON.parse(esm)).toEqual(JSON.parse(cjs));
    const [main, testing] = JSON.parse(esm) as [string[], string[]];
    expect(main).toEqual(
      expect.arrayContaining([
        'runCrew',
        'defineTool',
        'AgentsError',
        'templateVariables',
        'createScriptedProvider',
        'createEmbedder',
        'parseEmbedderSpec',
        'chunkText',
        'createDocumentSearchTool',
      ]),
    );
    expect(testing).toEqual(['createOllamaTestServer', 'createOpenAICompatibleTestServer']);
  });

  it('serves the address policy from its own subpath, in ESM and CJS', () => {
    const loaded = run([
      '--input-type=module',
      '-e',
      "const p = await import('@troupe/agents/address-policy'); const c = (await import('node:module')).createRequire(process.cwd() + '/')('@troupe/agents/address-policy'); console.log(JSON.stringify([p.blockedAddressKind('10.0.0.5'), c.blockedAddressKind('8.8.8.8'), p.isMetadataHostname('metadata.google.internal')]))",
    ]);
    expect(JSON.parse(loaded)).toEqual(['private', null, true]);
  });

  it('runs a crew end to end and embeds from the CJS build against the built test server', () => {
    const output = run([
      '-e',
      `(async () => {
        const { runCrew } = require('@troupe/agents');
        const { createOpenAICompatibleTestServer } = require('@troupe/agents/testing');
        const server = await createOpenAICompatibleTestServer();
        server.enqueue({ text: 'hello from cjs' });
        const result = await runCrew({
          crew: { name: 'c', agents: [{ name: 'a', role: 'r', goal: 'g', model: { provider: 'openai', name: 'm', baseUrl: server.url } }],
                  tasks: [{ name: 't', description: 'd', agent: 'a' }] },
          providers: { openai: { apiKey: 'k' } },
        }).result();
        const { createEmbedder } = require('@troupe/agents');
        const embedded = await createEmbedder({ provider: 'openai', model: 'e', baseUrl: server.url, apiKey: 'k' }).embed(['a b']);
        await server.close();
        console.log(result.status + ':' + result.output + ':' + embedded.vectors[0].length);
      })()`,
    ]);
    expect(output).toBe('succeeded:hello from cjs:64');
  });
});
