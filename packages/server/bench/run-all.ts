// `npm run bench` (here, or turbo from the repo root): every bench/*.bench.ts in its own process, one after another (they measure
// ratios against baselines taken in the same process, on a shared machine). Each prints its
// table and writes bench-results/<name>.json. In packages/server, `npm run bench -- fan-out` runs the matching ones;
// BENCH_SCALE=0.5 halves the sample counts.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { here } from './bench-kit.js';

const filter = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const file of benches) {
  const t0 = Date.now();
  console.log(`\n=== ${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, file)], { stdio: 'inherit' });
  console.log(
    `=== ${file}: ${r.status === 0 ? 'done' : `FAILED (${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
