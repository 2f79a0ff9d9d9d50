// `troupe dev` second start: process spawn -> /health answers 200, on an existing data folder.
// Baseline, same run: a bare Node process that opens the same PGlite folder and serves /health.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '../bin/troupe.mjs');
const RUNS = Number(process.env.RUNS ?? 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Spawn -> the process says it is ready on stdout -> one /health answers 200. No busy polling: on a
 * 2-core machine a tight poll loop competes with the process being measured.
 */
async function timeToHealthy(args: string[], port: number): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (/ready/.test(out)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    });
    const r = await fetch(`http://127.0.0.1:${port}/health`);
    if (r.status !== 200) throw new Error(`/health answered ${r.status}`);
    return performance.now() - t0;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'troupe-bench-'));
const dataDir = path.join(dir, 'data');
const baseline = path.join(dir, 'baseline.mjs');
const require = `import { createRequire } from 'node:module'; const require = createRequire(${JSON.stringify(bin)});`;
writeFileSync(
  baseline,
  `${require}
const { PGlite } = await import(require.resolve('@electric-sql/pglite'));
const { vector } = await import(require.resolve('@electric-sql/pglite-pgvector'));
const { createServer } = await import('node:http');
const db = await PGlite.create({ dataDir: process.argv[2], extensions: { vector } });
await db.query('select 1');
createServer((_q, s) => { s.end('ok'); }).listen(Number(process.argv[3]), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', async () => { await db.close(); process.exit(0); });
`,
);
try {
  mkdirSync(dataDir);
  const port = 4700 + Math.floor(Math.random() * 200);
  const first = await timeToHealthy([bin, 'dev', '--port', String(port), '--data-dir', dataDir], port);
  const troupe: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    troupe.push(await timeToHealthy([bin, 'dev', '--port', String(port), '--data-dir', dataDir], port));
    bare.push(await timeToHealthy([baseline, path.join(dataDir, 'pgdata'), String(port)], port));
  }
  const result = {
    firstStartMs: Math.round(first),
    secondStartMedianMs: Math.round(median(troupe)),
    baselineMedianMs: Math.round(median(bare)),
    ratio: +(median(troupe) / median(bare)).toFixed(2),
    runs: RUNS,
    goal: 'second start under 1500 ms',
  };
  console.table([
    { what: 'troupe dev, first start (initdb + migrations)', ms: result.firstStartMs },
    { what: 'troupe dev, second start (median)', ms: result.secondStartMedianMs },
    { what: 'baseline: node + PGlite open + http (median)', ms: result.baselineMedianMs },
    { what: 'ratio second start / baseline', ms: result.ratio },
  ]);
  const out = path.resolve(here, '../bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'startup.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
