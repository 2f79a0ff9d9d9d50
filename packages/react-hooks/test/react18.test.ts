// @vitest-environment node
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CREW, tenantClient, WRITE_TEXT, waitForSubscribers } from './troupe';

// The workspace tests run React 19; this runs the packed @troupe/react on React 18 (StrictMode,
// react-test-renderer) against the real test server.
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
let app: string;

beforeAll(async () => {
  app = mkdtempSync(path.join(tmpdir(), 'troupe-react18-'));
  const packed: Record<string, string> = {};
  const dirs = {
    '@troupe/sdk': 'packages/sdk',
    '@troupe/react': 'packages/react-hooks',
    ws: 'node_modules/ws',
  };
  await Promise.all(
    Object.entries(dirs).map(async ([name, dir]) => {
      const { stdout } = await run('npm', [
        'pack',
        path.join(root, dir),
        '--pack-destination',
        app,
        '--json',
      ]);
      packed[name] = `file:./${(JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename}`;
    }),
  );
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'troupe-react18-check',
      private: true,
      type: 'module',
      dependencies: { ...packed, react: '18.3.1', 'react-test-renderer': '18.3.1' },
      overrides: { '@troupe/sdk': packed['@troupe/sdk'] },
    }),
  );
  // React 18 comes from the npm cache, or the registry the first time.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: app,
    timeout: 90_000,
  });
}, 120_000);
afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('React 18', () => {
  it('useRun streams a run under StrictMode with one subscription, and none after unmount', async () => {
    const client = await tenantClient(`react18-${Math.random()}`);
    const crew = await client.crews.create(CREW);
    const started = await client.runs.start({ crewId: crew.id, inputs: { topic: 'react18' } });
    const key = await client.apiKeys.create({ name: 'react18', scopes: ['READ', 'WRITE'] });
    const { url, controlUrl } = inject('troupe');
    writeFileSync(
      path.join(app, 'check.mjs'),
      `
      import { version, createElement, StrictMode } from 'react';
      import TestRenderer from 'react-test-renderer';
      import WebSocket from 'ws';
      import { createTroupeClient } from '@troupe/sdk';
      import { TroupeProvider, useRun } from '@troupe/react';
      globalThis.IS_REACT_ACT_ENVIRONMENT = false;
      const client = createTroupeClient({ url: ${JSON.stringify(url)}, apiKey: ${JSON.stringify(key.secret)}, webSocketImpl: WebSocket });
      const subscribers = async () => (await (await fetch(${JSON.stringify(controlUrl)})).json()).subscribers;
      let latest;
      function View() { latest = useRun(${JSON.stringify(started.id)}); return createElement('p', null, latest.status); }
      const renderer = TestRenderer.create(
        createElement(StrictMode, null, createElement(TroupeProvider, { client }, createElement(View))));
      let during = 0;
      for (let i = 0; i < 500 && latest.status !== 'SUCCEEDED'; i++) {
        if (latest.events.length > 3 && !during) during = await subscribers();
        await new Promise((r) => setTimeout(r, 20));
      }
      const result = { react: version, status: latest.status, text: latest.textByTask.write, during,
        html: renderer.toJSON().children.join('') };
      renderer.unmount();
      console.log(JSON.stringify(result));
      `,
    );
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: app, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({
      react: '18.3.1',
      status: 'SUCCEEDED',
      text: WRITE_TEXT,
      during: 1,
      html: 'SUCCEEDED',
    });
    await waitForSubscribers(0);
  });
});
