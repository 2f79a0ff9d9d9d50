#!/usr/bin/env node
// `troupe dev` may first start node again with settings V8 and glibc read only at start (see
// src/relaunch.ts); that module is small, so it is loaded before the CLI's bundle.
import { relaunchIfNeeded } from '../dist/cli/relaunch.js';

relaunchIfNeeded();
const { main } = await import('../dist/cli/cli.js');
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
