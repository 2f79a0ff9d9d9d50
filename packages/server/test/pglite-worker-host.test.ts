// The PGlite thread's host: a database thread that dies is reported, not left to fail every request
// in silence. The threads here are stand-ins that speak the host's messages and then fail; the real
// thread is covered by cli.test.ts and every embedded test.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { EmbeddedDatabaseError, startPGliteWorker } from '../src/db/pglite-worker-host.js';

const dir = mkdtempSync(path.join(tmpdir(), 'troupe-host-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function thread(name: string, body: string): URL {
  const file = path.join(dir, `${name}.mjs`);
  writeFileSync(file, `import { parentPort } from 'node:worker_threads';\n${body}\n`);
  return pathToFileURL(file);
}

test('a database thread that dies while serving is reported once, and its socket folder goes', async () => {
  const stops: Error[] = [];
  const host = startPGliteWorker({
    dataDir: dir,
    migrate: false,
    workerUrl: thread(
      'dies',
      `parentPort.postMessage({ type: 'ready', applied: [] });
       setTimeout(() => { throw new Error('out of WebAssembly memory'); }, 50);`,
    ),
    onStopped: (err) => stops.push(err),
  });
  await host.ready;
  await new Promise((r) => setTimeout(r, 500));
  expect(stops.map((e) => e.message)).toEqual(['out of WebAssembly memory']);
  await host.close();
  expect(existsSync(host.socketDir)).toBe(false);
});

test('a thread that ends before it is ready fails the start instead of leaving it waiting', async () => {
  const host = startPGliteWorker({
    dataDir: dir,
    migrate: false,
    workerUrl: thread('exits', 'process.exit(3);'),
    onStopped: () => {
      throw new Error('not serving yet: the start fails instead');
    },
  });
  await expect(host.ready).rejects.toThrow(EmbeddedDatabaseError);
  await expect(host.ready).rejects.toThrow(/ended during start \(exit code 3\)/);
  await host.close();
  expect(existsSync(host.socketDir)).toBe(false);
});

test('closing the host is not a death', async () => {
  const stops: Error[] = [];
  const host = startPGliteWorker({
    dataDir: dir,
    migrate: false,
    workerUrl: thread(
      'closes',
      `parentPort.postMessage({ type: 'ready', applied: [] });
       parentPort.on('message', (m) => { if (m.type === 'close') { parentPort.postMessage({ type: 'closed' }); process.exit(0); } });`,
    ),
    onStopped: (err) => stops.push(err),
  });
  await host.ready;
  await host.close();
  await new Promise((r) => setTimeout(r, 100));
  expect(stops).toEqual([]);
});
