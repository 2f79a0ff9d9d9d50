import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { heapGrowingPercent } from '../src/heap-growth.js';
import {
  DEV_MALLOC_TRIM_THRESHOLD,
  DEV_SEMI_SPACE_MB,
  type ProcessFacts,
  relaunchFor,
} from '../src/relaunch.js';
import {
  DEV_WASM_TIERING_BUDGET,
  devWasmTier,
  isGlibc,
  startEnvironment,
  wasmTier,
} from '../src/wasm-tier.js';
import { BACKEND, PG_BASE_URL, pgAdmin, withDatabaseName } from './support/backend.js';
import { runCli } from './support/cli-process.js';
import { CREATE_CREW, createTenant, gql, gqlOk, OPENAI_CREW } from './support/graphql-client.js';

let dataDir: string;
let env: NodeJS.ProcessEnv = {};
let dbName: string | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-cli-'));
  if (BACKEND === 'postgres') {
    dbName = `troupe_cli_${randomBytes(4).toString('hex')}`;
    await pgAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
    env = { DATABASE_URL: withDatabaseName(PG_BASE_URL, dbName) };
  }
});
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  if (dbName) await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
});

describe(`troupe dev (${BACKEND})`, () => {
  test('first start migrates, prints the admin key once and serves GraphQL, /health and GraphiQL', async () => {
    const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], env);
    const url = await cli.ready;
    try {
      expect(cli.output()).toMatch(/Migrated\s+\d+_init/);
      if (BACKEND === 'pglite') {
        // The data folder is locked by the server alone: the process that created the database
        // left the lock as it exited (its pid, given to another process later, holds nothing).
        const lock = readFileSync(path.join(dataDir, 'troupe.lock'), 'utf8').split('\n').filter(Boolean);
        expect(lock).toHaveLength(1);
      }
      const key = /Admin key[^\n]*\n\s+(trpa_\S+)/.exec(cli.output())?.[1];
      expect(key).toBeDefined();
      expect(readFileSync(path.join(dataDir, 'admin-key'), 'utf8').trim()).toBe(key);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/GraphiQL/);
      const t = await gqlOk(
        url,
        'mutation { createTenant(input: {name: "cli"}) { tenant { name } } }',
        {},
        key,
      );
      expect(t.createTenant.tenant.name).toBe('cli');
    } finally {
      const code = await cli.stop();
      expect(code, cli.output()).toBe(0);
    }
    expect(existsSync(path.join(dataDir, 'troupe.lock'))).toBe(false);
  });

  test('a server whose output pipe closed goes on serving, and shuts down cleanly when told', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'troupe-cli-tmp-'));
    const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], { ...env, TMPDIR: tmp });
    try {
      const url = await cli.ready;
      // `troupe dev | head -1`, or a log collector that went away: the read end of stdout closes.
      cli.child.stdout!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect((await fetch(`${url}/health`)).status).toBe(200);
      // SIGTERM: the shutdown message goes to the closed pipe.
      expect(await cli.stop(), cli.output()).toBe(0);
      expect(cli.output()).not.toMatch(/EPIPE/);
      // It closed the embedded database and removed its socket folder (in its own temp folder).
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('SIGHUP (the terminal closed) shuts down gracefully, like SIGTERM', async () => {
    const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], env);
    try {
      await cli.ready;
      cli.child.kill('SIGHUP');
      expect(await cli.exited, cli.output()).toBe(0);
      expect(cli.output()).toMatch(/SIGHUP: shutting down/);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  });

  test('a second signal during the shutdown stops the server at once, and says so', async () => {
    // Its own data folder: this stop does not finish closing the database.
    const own = mkdtempSync(path.join(tmpdir(), 'troupe-cli-twice-'));
    try {
      const cli = runCli(['dev', '--port', '0', '--data-dir', own], { ...env, TMPDIR: own });
      await cli.ready;
      // Two different signals, held while the process is stopped, arrive together when it goes on
      // (two of the same signal would merge into one): the second comes during the shutdown.
      cli.child.kill('SIGSTOP');
      cli.child.kill('SIGINT');
      cli.child.kill('SIGTERM');
      cli.child.kill('SIGCONT');
      const code = await cli.exited;
      expect([128 + 2, 128 + 15], cli.output()).toContain(code);
      expect(cli.output()).toMatch(/SIG(INT|TERM) during the shutdown: stopping now, before it finished/);
      // Stopped mid-shutdown, it still removed the socket folder (in its own temp folder).
      expect(readdirSync(own).filter((n) => n.startsWith('troupe-pg-'))).toEqual([]);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  test('second start keeps the data and the key, and does not print the key again', async () => {
    const key = readFileSync(path.join(dataDir, 'admin-key'), 'utf8').trim();
    const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], env);
    const url = await cli.ready;
    try {
      expect(cli.output()).not.toMatch(/trpa_/);
      expect(cli.output()).not.toMatch(/Migrated/);
      const r = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          query: 'mutation { createTenant(input: {name: "again"}) { tenant { name } } }',
        }),
      });
      expect(r.status).toBe(200);
    } finally {
      await cli.stop();
    }
  });

  test.runIf(BACKEND === 'pglite')(
    'a second process on the same data folder gets a clear error, not a corrupt database',
    async () => {
      const first = runCli(['dev', '--port', '0', '--data-dir', dataDir], env);
      await first.ready;
      try {
        const second = runCli(['dev', '--port', '0', '--data-dir', dataDir], env);
        expect(await second.exited).toBe(1);
        expect(second.output()).toMatch(/in use by another troupe process \(pid \d+\)/);
        expect((await fetch(`${await first.ready}/health`)).status).toBe(200);
      } finally {
        await first.stop();
      }
    },
  );
  test.runIf(BACKEND === 'pglite')(
    "two tenants' runs and reads at once share PGlite's one session: runs execute 12 and more at once, each succeeds with its own output, each tenant sees only its own",
    async () => {
      const llm = await createOpenAICompatibleTestServer();
      // The first answers wait until 12 requests are open at once (or 3 s after the first): the server executes
      // that many runs at a time (it was 8: the 9th waited for one of them to end).
      let open = 0;
      let mostOpen = 0;
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
      // Each task's answer names the topic it was asked about.
      llm.setFallback(async (req) => {
        if (++open === 1 && mostOpen === 0) setTimeout(openGate, 3_000).unref();
        mostOpen = Math.max(mostOpen, open);
        if (open >= 12) openGate();
        await gate;
        open--;
        const topic = /about (t\d+-\d+)/.exec(JSON.stringify(req.body))?.[1] ?? 'none';
        return { text: [`notes on `, topic] };
      });
      const dir = mkdtempSync(path.join(tmpdir(), 'troupe-cli-busy-'));
      const cli = runCli(['dev', '--port', '0', '--data-dir', dir], {
        ...env,
        OPENAI_BASE_URL: llm.url,
        OPENAI_API_KEY: 'test',
      });
      try {
        const url = await cli.ready;
        const admin = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
        const tenants = await Promise.all(
          [0, 1].map(async (t) => {
            const { key } = await createTenant(url, admin, `busy-${t}`);
            const crew = await gqlOk(url, CREATE_CREW, { input: OPENAI_CREW }, key);
            return { t, key, crewId: crew.createCrew.crew.id as string };
          }),
        );
        const RUN = 'query($id: ID!) { run(id: $id) { id status output } }';
        const started = await Promise.all(
          tenants.flatMap(({ t, key, crewId }) =>
            Array.from({ length: 15 }, async (_, i) => {
              const d = await gqlOk(
                url,
                'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
                { input: { crewId, inputs: { topic: `t${t}-${i}` } } },
                key,
              );
              return { t, i, key, id: d.startRun.run.id as string };
            }),
          ),
        );
        // Poll every run (reads through Prisma on one connection while runs write on the other).
        const deadline = Date.now() + 30_000;
        const pending = new Set(started);
        while (pending.size > 0 && Date.now() < deadline) {
          await Promise.all(
            [...pending].map(async (r) => {
              const d = await gqlOk(url, RUN, { id: r.id }, r.key);
              if (d.run.status === 'SUCCEEDED') {
                expect(d.run.output).toBe(`notes on t${r.t}-${r.i}`);
                pending.delete(r);
              } else expect(['QUEUED', 'RUNNING']).toContain(d.run.status);
            }),
          );
        }
        expect(pending.size).toBe(0);
        expect(mostOpen).toBeGreaterThanOrEqual(12);
        for (const { t, key } of tenants) {
          const own = started.filter((r) => r.t === t).map((r) => r.id);
          const other = started.filter((r) => r.t !== t).map((r) => r.id);
          const list = await gqlOk(url, 'query { runs(first: 100) { edges { node { id } } } }', {}, key);
          expect(list.runs.edges.map((e: { node: { id: string } }) => e.node.id).sort()).toEqual(own.sort());
          const foreign = await gql(url, RUN, { id: other[0] }, key);
          expect(foreign.data?.run ?? null).toBeNull();
        }
      } finally {
        const code = await cli.stop();
        await llm.close();
        rmSync(dir, { recursive: true, force: true });
        expect(code, cli.output()).toBe(0);
      }
    },
  );
});

describe('troupe serve and migrate', () => {
  test('serve refuses to start without TROUPE_SECRET and says how to make one', async () => {
    const cli = runCli(['serve', '--port', '0', '--data-dir', dataDir], env);
    expect(await cli.exited).toBe(1);
    expect(cli.output()).toMatch(/TROUPE_SECRET is required/);
  });

  test('serve with Redis unreachable stops with a message that names it (not its password), and leaves nothing behind', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const tmp = mkdtempSync(path.join(tmpdir(), 'troupe-cli-tmp-'));
    try {
      const cli = runCli(['serve', '--port', '0', '--data-dir', dataDir], {
        ...env,
        TMPDIR: tmp,
        TROUPE_SECRET: randomBytes(32).toString('hex'),
        REDIS_URL: `redis://troupe:sekrit@127.0.0.1:${closed}`,
      });
      expect(await cli.exited).toBe(1);
      expect(cli.output()).toMatch(
        new RegExp(
          `troupe: cannot reach Redis at 127\\.0\\.0\\.1:${closed} \\(REDIS_URL\\): connect ECONNREFUSED [^\\n]+\\. Is Redis running there\\?`,
        ),
      );
      expect(cli.output()).not.toMatch(/sekrit|\n\s+at /);
      // The embedded database it had opened (no DATABASE_URL in the pglite run) left no socket folder.
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('migrate --status reports an up-to-date database; --no-migrate leaves a new one untouched', async () => {
    const fresh = mkdtempSync(path.join(tmpdir(), 'troupe-cli-fresh-'));
    try {
      const status = runCli(['migrate', '--status', '--data-dir', dataDir], env);
      expect(await status.exited).toBe(0);
      expect(status.output()).toMatch(/up to date/);
      if (BACKEND === 'pglite') {
        const pending = runCli(['migrate', '--status', '--data-dir', fresh]);
        expect(await pending.exited).toBe(0);
        expect(pending.output()).toMatch(/Pending migrations:\s+\d+_init/);
        expect(pending.output()).toMatch(/No database in .* yet/);
        // Asking created nothing.
        expect(readdirSync(fresh)).toEqual([]);
        const apply = runCli(['migrate', '--data-dir', fresh]);
        let appliedAt = 0;
        await until(() => {
          if (/Applied:/.test(apply.output())) appliedAt ||= Date.now();
          return appliedAt > 0;
        }, 60_000);
        expect(await apply.exited).toBe(0);
        expect(apply.output()).toMatch(/Applied:\s+\d+_init/);
        // It ends once done: the schema engine's leftover 10 s timer held it open for as long.
        expect(Date.now() - appliedAt).toBeLessThan(5000);
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  test.skipIf(BACKEND === 'postgres')(
    'a data folder PGlite cannot create its database in stops the start with a message, not a stack',
    async () => {
      const bad = mkdtempSync(path.join(tmpdir(), 'troupe-cli-bad-'));
      try {
        // A file where initdb needs a folder.
        mkdirSync(path.join(bad, 'pgdata'));
        writeFileSync(path.join(bad, 'pgdata', 'base'), 'not a folder');
        const cli = runCli(['dev', '--port', '0', '--data-dir', bad]);
        expect(await cli.exited).toBe(1);
        expect(cli.output()).toContain(
          `troupe: the embedded database in ${bad} could not start: file system error in the data folder: not a directory (ENOTDIR)`,
        );
        expect(cli.output()).not.toMatch(/\n\s+at /);
      } finally {
        rmSync(bad, { recursive: true, force: true });
      }
    },
  );

  test.skipIf(BACKEND === 'postgres')(
    'a server killed during its first start leaves a whole database; the folder stays locked until it is',
    async () => {
      const fresh = mkdtempSync(path.join(tmpdir(), 'troupe-cli-killed-'));
      // Socket folders of embedded databases (troupe-pg-*) that exist before: the killed process
      // cannot remove its own, so the test does.
      const socketDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith('troupe-pg-'));
      const socketDirsBefore = new Set(socketDirs());
      const holders = () => {
        try {
          return readFileSync(path.join(fresh, 'troupe.lock'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => Number.parseInt(line, 10));
        } catch {
          return [];
        }
      };
      try {
        const first = runCli(['dev', '--port', '0', '--data-dir', fresh]);
        // The process creating the database joins the lock as it starts.
        await until(() => holders().length === 2, 30_000);
        const setupPid = holders()[1]!;
        first.child.kill('SIGKILL');
        await first.exited;
        const second = runCli(['dev', '--port', '0', '--data-dir', fresh]);
        expect(await second.exited).toBe(1);
        expect(second.output()).toContain(`in use by another troupe process (pid ${setupPid})`);
        // It finishes creating and migrating the database, then goes.
        await until(() => !alive(setupPid), 60_000);
        const third = runCli(['dev', '--port', '0', '--data-dir', fresh]);
        try {
          const url = await third.ready;
          expect(third.output()).not.toMatch(/Migrated/);
          const key = readFileSync(path.join(fresh, 'admin-key'), 'utf8').trim();
          const t = await gqlOk(
            url,
            'mutation { createTenant(input: {name: "after"}) { tenant { name } } }',
            {},
            key,
          );
          expect(t.createTenant.tenant.name).toBe('after');
        } finally {
          expect(await third.stop(), third.output()).toBe(0);
        }
      } finally {
        for (const pid of holders()) if (alive(pid)) process.kill(pid, 'SIGKILL');
        rmSync(fresh, { recursive: true, force: true });
        for (const dir of socketDirs())
          if (!socketDirsBefore.has(dir)) rmSync(path.join(tmpdir(), dir), { recursive: true, force: true });
      }
    },
  );

  test('unknown commands and bad flags exit 64 with usage', async () => {
    const bad = runCli(['frobnicate']);
    expect(await bad.exited).toBe(64);
    expect(bad.output()).toMatch(/unknown command "frobnicate"[\s\S]*Usage:/);
    const port = runCli(['dev', '--port', 'abc', '--data-dir', dataDir]);
    expect(await port.exited).toBe(64);
    expect(port.output()).toMatch(/--port must be/);
  });
});

test('TROUPE_WORKER_CONCURRENCY=0 stops `troupe dev` with a message that names it', async () => {
  const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], {
    ...env,
    TROUPE_WORKER_CONCURRENCY: '0',
  });
  expect(await cli.exited).toBe(1);
  expect(cli.output()).toMatch(/TROUPE_WORKER_CONCURRENCY must be at least 1, got 0/);
});

describe('heap growth limit', () => {
  test('a bad TROUPE_HEAP_GROWING_PERCENT stops the start with a message that names it', async () => {
    const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], {
      ...env,
      TROUPE_HEAP_GROWING_PERCENT: 'lots',
    });
    expect(await cli.exited).toBe(1);
    expect(cli.output()).toMatch(
      /TROUPE_HEAP_GROWING_PERCENT must be an integer 0-1000 \(0: V8 decides\), got "lots"/,
    );
  });

  test("the command's default applies unless the environment or node's own flags choose", () => {
    expect(heapGrowingPercent(30, {}, [])).toBe(30);
    expect(heapGrowingPercent(0, {}, [])).toBeUndefined();
    expect(heapGrowingPercent(0, { TROUPE_HEAP_GROWING_PERCENT: '50' }, [])).toBe(50);
    expect(heapGrowingPercent(30, { TROUPE_HEAP_GROWING_PERCENT: '0' }, [])).toBeUndefined();
    expect(
      heapGrowingPercent(30, { NODE_OPTIONS: '--max-old-space-size=512 --optimize-for-size' }, []),
    ).toBeUndefined();
    expect(
      heapGrowingPercent(30, { TROUPE_HEAP_GROWING_PERCENT: '50' }, ['--heap-growing-percent=80']),
    ).toBeUndefined();
  });
});

describe('relaunch with start-time settings', () => {
  const linux = { env: {}, execArgv: [], platform: 'linux', ipc: false } as const;
  const facts = (more: Partial<ProcessFacts>): ProcessFacts => ({ ...linux, ...more });

  test('only `troupe dev` asks for them, wherever its options are', () => {
    expect(relaunchFor(['serve'], linux)).toBeUndefined();
    expect(relaunchFor(['worker', '--concurrency', '4'], linux)).toBeUndefined();
    expect(relaunchFor(['--data-dir', 'dev', 'serve'], linux)).toBeUndefined();
    expect(relaunchFor(['dev', '--bogus'], linux)).toBeUndefined();
    const asked = {
      nodeFlags: [`--max-semi-space-size=${DEV_SEMI_SPACE_MB}`],
      env: {
        HOME: '/h',
        MALLOC_ARENA_MAX: '2',
        MALLOC_TRIM_THRESHOLD_: DEV_MALLOC_TRIM_THRESHOLD,
        TROUPE_RELAUNCHED: 'MALLOC_ARENA_MAX,MALLOC_TRIM_THRESHOLD_',
      },
    };
    expect(relaunchFor(['dev', '--port', '0'], facts({ env: { HOME: '/h' } }))).toEqual(asked);
    expect(relaunchFor(['--port', '4000', 'dev'], facts({ env: { HOME: '/h' } }))).toEqual(asked);
    expect(relaunchFor(['-p', '4000', 'dev'], facts({ env: { HOME: '/h' } }))).toEqual(asked);
    // macOS: no glibc to set.
    expect(relaunchFor(['dev'], facts({ platform: 'darwin' }))).toEqual({
      nodeFlags: [`--max-semi-space-size=${DEV_SEMI_SPACE_MB}`],
      env: { TROUPE_RELAUNCHED: '' },
    });
  });

  test("node's flags and the environment win; a relaunch that would break something is skipped", () => {
    const none = (more: Partial<ProcessFacts>) => relaunchFor(['dev'], facts(more));
    // The user's own heap sizing (command line or NODE_OPTIONS) is kept: V8 refuses
    // --max-heap-size together with a semi-space size.
    const ownMalloc = { MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '262144' };
    expect(none({ env: ownMalloc, execArgv: ['--max-semi-space-size=16'] })).toBeUndefined();
    expect(none({ env: ownMalloc, execArgv: ['--max-heap-size=512'] })).toBeUndefined();
    expect(
      none({ env: { ...ownMalloc, MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--optimize-for-size' } }),
    ).toBeUndefined();
    // Any of glibc's settings that hold its mmap threshold counts, as a variable or a tunable
    // (anywhere in the list); what is left to set is still set.
    const semi = ['--max-semi-space-size=16'];
    for (const held of [
      { MALLOC_TRIM_THRESHOLD_: '0' },
      { MALLOC_TOP_PAD_: '0' },
      { MALLOC_MMAP_MAX_: '65536' },
      { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' },
      { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0:glibc.malloc.trim_threshold=65536' },
    ])
      expect(none({ env: { MALLOC_ARENA_MAX: '8', ...held }, execArgv: semi })).toBeUndefined();
    expect(
      none({ env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=4:glibc.malloc.top_pad=0' }, execArgv: semi }),
    ).toBeUndefined();
    for (const notHeld of [
      {},
      { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold_x=1' },
      { GLIBC_TUNABLES: 'xglibc.malloc.trim_threshold=1' },
    ])
      expect(none({ env: { MALLOC_ARENA_MAX: '8', ...notHeld }, execArgv: semi })).toEqual({
        nodeFlags: [],
        env: {
          MALLOC_ARENA_MAX: '8',
          ...notHeld,
          MALLOC_TRIM_THRESHOLD_: DEV_MALLOC_TRIM_THRESHOLD,
          TROUPE_RELAUNCHED: 'MALLOC_TRIM_THRESHOLD_',
        },
      });
    expect(none({ env: { NODE_OPTIONS: '--min_semi_space_size=1' } })?.nodeFlags).toEqual([]);
    // A debugger, a parent on IPC (fork(), node --watch), Windows, or asked not to.
    expect(none({ execArgv: ['--inspect-brk'] })).toBeUndefined();
    expect(none({ env: { NODE_OPTIONS: '--inspect=9230' } })).toBeUndefined();
    expect(none({ ipc: true })).toBeUndefined();
    expect(none({ platform: 'win32' })).toBeUndefined();
    expect(none({ env: { TROUPE_RELAUNCH: '0' } })).toBeUndefined();
    // A relaunched process never relaunches again.
    expect(none({ env: { TROUPE_RELAUNCHED: '' } })).toBeUndefined();
  });

  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

  // process.execve: Node 22.15 and 23.11 on (CI runs this file on Node 24 too).
  const canRelaunch =
    typeof (process as { execve?: unknown }).execve === 'function' && process.platform === 'linux';

  test.skipIf(!canRelaunch)(
    'troupe dev runs as the same process with a small young generation, two malloc arenas and a held mmap threshold, and so gets TurboFan',
    async () => {
      const cli = runCli(['--port', '0', 'dev', '--data-dir', dataDir], env);
      let pid: number | undefined;
      try {
        const url = await cli.ready;
        expect((await fetch(`${url}/health`)).status).toBe(200);
        pid = cli.child.pid!;
        expect(cmdline(pid)).toContain(`--max-semi-space-size=${DEV_SEMI_SPACE_MB}`);
        expect(environ(pid)).toContain('MALLOC_ARENA_MAX=2');
        expect(environ(pid)).toContain(`MALLOC_TRIM_THRESHOLD_=${DEV_MALLOC_TRIM_THRESHOLD}`);
        // The relaunched process took the variables back out of its environment; the tier follows
        // what glibc started with.
        if (BACKEND === 'pglite')
          expect(cli.output()).toMatch(/Database\s+PGlite in .*\(WebAssembly: optimizing compiler\)/);
      } finally {
        await cli.stop();
      }
      expect(cli.child.exitCode).toBe(0);
    },
  );

  test.skipIf(!canRelaunch)('what the user chose is what runs', async () => {
    const own = runCli(['dev', '--port', '0', '--data-dir', dataDir], {
      ...env,
      NODE_OPTIONS: '--max-semi-space-size=16',
      MALLOC_ARENA_MAX: '8',
      MALLOC_MMAP_THRESHOLD_: '262144',
    });
    try {
      await own.ready;
      const pid = own.child.pid!;
      expect(cmdline(pid).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
      expect(environ(pid)).toContain('MALLOC_ARENA_MAX=8');
      expect(environ(pid)).toContain('MALLOC_MMAP_THRESHOLD_=262144');
      if (BACKEND === 'pglite') expect(own.output()).toMatch(/\(WebAssembly: optimizing compiler\)/);
      expect(environ(pid).some((v) => v.startsWith('TROUPE_RELAUNCHED'))).toBe(false);
    } finally {
      await own.stop();
    }
  });
});

describe('WebAssembly tier', () => {
  test('a bad TROUPE_WASM_TIER stops the start with a message that names it', async () => {
    const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], { ...env, TROUPE_WASM_TIER: 'fast' });
    expect(await cli.exited).toBe(1);
    expect(cli.output()).toMatch(/TROUPE_WASM_TIER must be "baseline" or "optimizing", got "fast"/);
  });

  test("troupe dev's default: TurboFan, unless glibc started without its mmap threshold held", () => {
    const glibc = (startEnv: NodeJS.ProcessEnv) =>
      devWasmTier({ startEnv: () => startEnv, glibc: () => true });
    expect(glibc({})).toBe('baseline');
    expect(glibc({ MALLOC_ARENA_MAX: '2' })).toBe('baseline');
    expect(glibc({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).toBe('baseline');
    expect(glibc({ MALLOC_TRIM_THRESHOLD_: DEV_MALLOC_TRIM_THRESHOLD })).toBe('optimizing');
    expect(glibc({ MALLOC_MMAP_THRESHOLD_: '32768' })).toBe('optimizing');
    expect(glibc({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536' })).toBe(
      'optimizing',
    );
    // Settings that hold nothing: no value, or nothing mapped at all.
    expect(glibc({ MALLOC_TRIM_THRESHOLD_: '' })).toBe('baseline');
    expect(glibc({ MALLOC_MMAP_MAX_: '0' })).toBe('baseline');
    expect(glibc({ GLIBC_TUNABLES: 'glibc.malloc.mmap_max=0' })).toBe('baseline');
    expect(glibc({ MALLOC_MMAP_MAX_: '1024' })).toBe('optimizing');
    // musl gives large blocks back by itself; macOS and Windows have no glibc. The C library is
    // asked only when the start environment does not decide.
    expect(devWasmTier({ startEnv: () => ({}), glibc: () => false })).toBe('optimizing');
    const noReport = () => {
      throw new Error('asked');
    };
    expect(devWasmTier({ startEnv: () => ({ MALLOC_TRIM_THRESHOLD_: '131072' }), glibc: noReport })).toBe(
      'optimizing',
    );
    // And only when neither node's flags nor TROUPE_WASM_TIER choose.
    expect(
      wasmTier(
        () => devWasmTier({ startEnv: () => ({}), glibc: noReport }),
        { TROUPE_WASM_TIER: 'baseline' },
        [],
      ),
    ).toBe('baseline');
    expect(wasmTier(noReport, {}, ['--liftoff-only'])).toBeUndefined();
  });

  test('the C library is told from the process itself, leaving its report settings as they were', () => {
    const maps = process.platform === 'linux' ? readFileSync('/proc/self/maps', 'utf8') : '';
    const report = process.report as NodeJS.ProcessReport & { excludeNetwork: boolean };
    const before = report.excludeNetwork;
    try {
      report.excludeNetwork = false;
      expect(isGlibc()).toBe(/\/libc\.so\.6\b/.test(maps));
      expect(report.excludeNetwork).toBe(false);
    } finally {
      report.excludeNetwork = before;
    }
  });

  test('the start environment is read as glibc reads it: the first of a name, entries without a name skipped', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'troupe-environ-'));
    try {
      const file = path.join(dir, 'environ');
      writeFileSync(file, ['NOEQ', '=x', 'A=1=2', 'MALLOC_TRIM_THRESHOLD_', 'A=3', 'B=', ''].join('\0'));
      expect(startEnvironment(file)).toEqual({ A: '1=2', B: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The relaunch test above shows that what glibc started with counts even once process.env lacks it.
  const glibcHere = isGlibc();
  test.skipIf(!glibcHere || BACKEND !== 'pglite')(
    'a troupe dev that does not relaunch gets TurboFan only with the mmap threshold held from the start',
    async () => {
      for (const [more, tier] of [
        [{}, 'baseline'],
        [{ MALLOC_TRIM_THRESHOLD_: DEV_MALLOC_TRIM_THRESHOLD }, 'optimizing'],
      ] as const) {
        const cli = runCli(['dev', '--port', '0', '--data-dir', dataDir], { TROUPE_RELAUNCH: '0', ...more });
        try {
          await cli.ready;
          expect(cli.output()).toMatch(new RegExp(`\\(WebAssembly: ${tier} compiler\\)`));
        } finally {
          expect(await cli.stop(), cli.output()).toBe(0);
        }
      }
    },
  );

  test("the command's default applies unless the environment or node's own flags choose", () => {
    expect(wasmTier('baseline', {}, [])).toBe('baseline');
    expect(wasmTier('optimizing', {}, [])).toBe('optimizing');
    expect(wasmTier('baseline', { TROUPE_WASM_TIER: 'optimizing' }, [])).toBe('optimizing');
    expect(wasmTier('optimizing', { TROUPE_WASM_TIER: ' baseline ' }, [])).toBe('baseline');
    expect(
      wasmTier('baseline', { NODE_OPTIONS: '--max-old-space-size=512 --no-liftoff' }, []),
    ).toBeUndefined();
    expect(
      wasmTier('baseline', { TROUPE_WASM_TIER: 'baseline' }, ['--wasm-dynamic-tiering']),
    ).toBeUndefined();
    expect(wasmTier('baseline', {}, ['--liftoff-only'])).toBeUndefined();
  });

  // Node 24's V8 ignored a --liftoff-only set at run time (the tiering flags it implies are only
  // derived from the command line): PGlite's PostgreSQL was compiled by TurboFan all the same and
  // `troupe dev` took ~110 MB more.
  test.each([
    ['baseline', false],
    ['optimizing', true],
  ] as const)('%s: a hot WebAssembly function is compiled by TurboFan: %s', (tier, turbofan) => {
    expect(probeTier(tier).turbofan).toBe(turbofan);
  });

  // troupe dev's budget keeps PGlite's boot from compiling hundreds of functions with TurboFan;
  // what stays hot is still compiled.
  test("troupe dev's TurboFan budget: a function must run longer before it is compiled, and then is", () => {
    const v8s = probeTier('optimizing');
    const dev = probeTier('optimizing', DEV_WASM_TIERING_BUDGET);
    expect(v8s, 'V8 budget: compiled within the first 100 calls').toMatchObject({
      early: true,
      turbofan: true,
    });
    expect(dev, "troupe dev's budget: not within 100 calls, but later").toMatchObject({
      early: false,
      turbofan: true,
    });
  });

  function probeTier(tier: string, budget?: number): { turbofan: boolean; early: boolean; calls: number } {
    const probe = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(import.meta.dirname, 'support/wasm-tier-probe.ts'),
        tier,
        ...(budget ? [String(budget)] : []),
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } },
    );
    expect(probe.stderr).toBe('');
    return JSON.parse(probe.stdout);
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${condition}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
