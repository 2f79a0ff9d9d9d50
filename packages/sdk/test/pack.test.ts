import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The packed packages, installed like an app installs them, load in both module systems.
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
let app: string;

async function node(file: string, source: string): Promise<string> {
  writeFileSync(path.join(app, file), source);
  const { stdout } = await run(process.execPath, [file], { cwd: app, timeout: 20_000 });
  return stdout.trim();
}

beforeAll(async () => {
  app = mkdtempSync(path.join(tmpdir(), 'troupe-pack-'));
  // Our packages, and react from the workspace's own install: no registry needed.
  const dirs = {
    '@troupe/sdk': 'packages/sdk',
    '@troupe/react': 'packages/react-hooks',
    react: 'node_modules/react',
    'react-dom': 'node_modules/react-dom',
    scheduler: 'node_modules/scheduler',
  };
  const tarballs: Record<string, string> = {};
  await Promise.all(
    Object.entries(dirs).map(async ([name, dir]) => {
      const { stdout } = await run(
        'npm',
        ['pack', path.join(root, dir), '--pack-destination', app, '--json'],
        {
          cwd: app,
        },
      );
      tarballs[name] = `file:./${(JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename}`;
    }),
  );
  const { scheduler, ...dependencies } = tarballs;
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'troupe-pack-check', private: true, dependencies, overrides: tarballs }),
  );
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: app,
    timeout: 60_000,
  });
}, 90_000);
afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

// A stream and an upload against a closed port: proves the lazily loaded stream and upload chunks
// resolve and report a TroupeError.
const streamCheck = `
  const client = createTroupeClient({ url: 'http://127.0.0.1:9', reconnect: false, streamTransport: 'sse' });
  const failure = await client.runs.stream('UnVuOjE=').next().catch((e) => e);
  const upload = await client.documents.upload('x', { name: 'a.txt' }).catch((e) => e);
  const html = renderToString(createElement(TroupeProvider, { client }, createElement(() => {
    const run = useRun('UnVuOjE=');
    const chat = useChat(null);
    return createElement('p', null, run.status + ' ' + chat.status);
  })));
  console.log(JSON.stringify({
    client: typeof client.runs.stream,
    code: isTroupeError(failure) && failure.code,
    uploadCode: isTroupeError(upload) && upload.code,
    helpers: [typeof collectText, typeof accumulateRun, typeof accumulateChat],
    hooks: [typeof useRun, typeof useStartRun, typeof useChat, typeof useCrews, typeof useDocuments, typeof useDocumentSearch],
    html,
  }));
`;
const expected = {
  client: 'function',
  code: 'UNAVAILABLE',
  uploadCode: 'UNAVAILABLE',
  helpers: ['function', 'function', 'function'],
  hooks: ['function', 'function', 'function', 'function', 'function', 'function'],
  html: '<p>QUEUED loading</p>',
};

describe('packed @troupe/sdk and @troupe/react', () => {
  it('import as ES modules', async () => {
    const out = await node(
      'check.mjs',
      `import { createTroupeClient, isTroupeError, collectText, accumulateRun, accumulateChat } from '@troupe/sdk';
       import { TroupeProvider, useRun, useStartRun, useChat, useCrews, useDocuments, useDocumentSearch } from '@troupe/react';
       import { createElement } from 'react';
       import { renderToString } from 'react-dom/server';
       ${streamCheck}`,
    );
    expect(JSON.parse(out)).toEqual(expected);
  });

  it('require as CommonJS', async () => {
    const out = await node(
      'check.cjs',
      `const { createTroupeClient, isTroupeError, collectText, accumulateRun, accumulateChat } = require('@troupe/sdk');
       const { TroupeProvider, useRun, useStartRun, useChat, useCrews, useDocuments, useDocumentSearch } = require('@troupe/react');
       const { createElement } = require('react');
       const { renderToString } = require('react-dom/server');
       (async () => { ${streamCheck} })();`,
    );
    expect(JSON.parse(out)).toEqual(expected);
  });
});
