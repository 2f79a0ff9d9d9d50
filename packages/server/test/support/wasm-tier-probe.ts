// Child process for the WebAssembly tier test: applies a tier (and a TurboFan budget, if given) the
// way the CLI does, makes a function hot and prints whether V8 compiled it with TurboFan, and after
// how many calls it saw that. V8's flags are process-wide, so
// this cannot run inside the test process.
import { setFlagsFromString } from 'node:v8';
import { applyWasmTier, type WasmTier } from '../../src/wasm-tier.js';

applyWasmTier(process.argv[2] as WasmTier, process.argv[3] ? Number(process.argv[3]) : undefined);
setFlagsFromString('--allow-natives-syntax');

// (func (export "f") (param i32) (result i32) (local i32)
//   (loop (local.tee 1 (i32.add (local.get 1) (i32.const 1))) (br_if 0 (i32.lt_s (local.get 0)))) (local.get 1))
// biome-ignore format: wasm bytes, grouped by section
const bytes = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
  0x0a, 0x17, 0x01, 0x15, 0x01, 0x01, 0x7f,
  0x03, 0x40, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x22, 0x01, 0x20, 0x00, 0x48, 0x0d, 0x00, 0x0b,
  0x20, 0x01, 0x0b,
]);
const { instance } = await WebAssembly.instantiate(bytes);
const f = instance.exports.f as (n: number) => number;
const isTurboFan = new Function('f', 'return %IsTurboFanFunction(f)') as (f: unknown) => boolean;
// Hot enough for V8's dynamic tiering many times over; TurboFan compiles on a background thread.
// First a fixed number of calls, ~5× what V8's own budget needs before it compiles the function and
// a third of what troupe dev's does: whether TurboFan has it then (its compile runs in the
// background: given time to finish) depends on the budget only, not on timing.
let calls = 0;
const call = async () => {
  f(10_000);
  if (++calls % 20 === 0) await new Promise((r) => setTimeout(r, 5));
};
while (calls < 100) await call();
await new Promise((r) => setTimeout(r, 200));
f(1);
const early = isTurboFan(f);
// Then as long as it takes (within reason).
while (calls < 2000 && !isTurboFan(f)) await call();
await new Promise((r) => setTimeout(r, 200));
f(1);
console.log(JSON.stringify({ turbofan: isTurboFan(f), early, calls }));
