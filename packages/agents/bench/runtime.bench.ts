/**
 * Runtime overhead benchmark: @troupe/agents vs the raw `openai` client, both streaming from the
 * same local OpenAI-compatible test server in the same process.
 *   npm run bench -w @troupe/agents
 * Prints a table and writes bench-results/runtime.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { type ChatChunk, type ChatProvider, type CrewDefinition, defineTool, runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer } from '../src/testing/index.js';

const TOKENS = 2000;
const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 25);
const WARMUP = 3;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const server = await createOpenAICompatibleTestServer();
  const tokens = Array.from({ length: TOKENS }, (_, i) => ` tok${i}`);
  let mode: 'stream' | 'tool' = 'stream';
  server.setFallback((request) => {
    if (mode === 'stream') return { text: tokens };
    const messages = (request.body as { messages: Array<{ role: string }> }).messages;
    return messages.some((message) => message.role === 'tool')
      ? { text: 'done' }
      : { toolCalls: [{ name: 'add', arguments: ['{"a":', ' 2, "b"', ': 3}'] }] };
  });

  const client = new OpenAI({ apiKey: 'bench', baseURL: server.url, maxRetries: 0 });
  const add = (args: { a: number; b: number }): number => args.a + args.b;
  const addTool = defineTool<{ a: number; b: number }>({
    name: 'add',
    description: 'Add two numbers',
    input: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    },
    handler: add,
  });
  const crew = (tools: string[]): CrewDefinition => ({
    name: 'bench',
    agents: [{ name: 'a', role: 'r', goal: 'g', model: { provider: 'openai', name: 'bench-model' }, tools }],
    tasks: [{ name: 't', description: 'Say many tokens', agent: 'a' }],
  });

  async function rawStream(): Promise<number> {
    const started = performance.now();
    const stream = await client.chat.completions.create({
      model: 'bench-model',
      messages: [{ role: 'user', content: 'Say many tokens' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    if (text.length === 0) throw new Error('raw stream returned nothing');
    return performance.now() - started;
  }

  async function runtimeStream(): Promise<number> {
    const started = performance.now();
    let count = 0;
    for await (const event of runCrew({
      crew: crew([]),
      providers: { openai: { apiKey: 'bench', baseUrl: server.url } },
    })) {
      if (event.type === 'TOKEN') count++;
      if (event.type === 'RUN_FAILED') throw new Error(event.error.message);
    }
    if (count !== TOKENS) throw new Error(`runtime streamed ${count} tokens`);
    return performance.now() - started;
  }

  async function rawTool(): Promise<number> {
    const started = performance.now();
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'add', description: 'Add two numbers', parameters: addTool.parameters },
      },
    ];
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Add 2 and 3' }];
    const first = await client.chat.completions.create({
      model: 'bench-model',
      messages,
      tools,
      stream: true,
      stream_options: { include_usage: true },
    });
    const calls: Array<{ id: string; name: string; arguments: string }> = [];
    for await (const chunk of first) {
      for (const part of chunk.choices[0]?.delta?.tool_calls ?? []) {
        let call = calls[part.index];
        if (!call) {
          call = { id: '', name: '', arguments: '' };
          calls[part.index] = call;
        }
        if (part.id) call.id = part.id;
        if (part.function?.name) call.name += part.function.name;
        if (part.function?.arguments) call.arguments += part.function.arguments;
      }
    }
    messages.push({
      role: 'assistant',
      content: null,
      tool_calls: calls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      })),
    });
    for (const call of calls) {
      messages.push({
        role: 'tool',
        tool_call_id: call.id,
        content: String(add(JSON.parse(call.arguments))),
      });
    }
    const second = await client.chat.completions.create({
      model: 'bench-model',
      messages,
      tools,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of second) text += chunk.choices[0]?.delta?.content ?? '';
    if (text !== 'done') throw new Error('raw tool round trip failed');
    return performance.now() - started;
  }

  async function runtimeTool(): Promise<number> {
    const started = performance.now();
    const result = await runCrew({
      crew: crew(['add']),
      tools: [addTool],
      providers: { openai: { apiKey: 'bench', baseUrl: server.url } },
    }).result();
    if (result.status !== 'succeeded' || result.output !== 'done')
      throw new Error('runtime tool round trip failed');
    return performance.now() - started;
  }

  interface Samples {
    wall: number[];
    cpu: number[];
  }
  /** Wall time and process CPU time (user+system, ms) of one call; CPU time is less sensitive to a busy machine. */
  async function sample(fn: () => Promise<number>, into: Samples): Promise<void> {
    const cpu = process.cpuUsage();
    into.wall.push(await fn());
    const used = process.cpuUsage(cpu);
    into.cpu.push((used.user + used.system) / 1000);
  }

  async function measure(a: () => Promise<number>, b: () => Promise<number>): Promise<[Samples, Samples]> {
    for (let i = 0; i < WARMUP; i++) {
      await a();
      await b();
    }
    const samples: [Samples, Samples] = [
      { wall: [], cpu: [] },
      { wall: [], cpu: [] },
    ];
    for (let i = 0; i < REPETITIONS; i++) {
      // Alternate the order so drift and GC affect both sides alike.
      if (i % 2 === 0) {
        await sample(a, samples[0]);
        await sample(b, samples[1]);
      } else {
        await sample(b, samples[1]);
        await sample(a, samples[0]);
      }
    }
    return samples;
  }

  // The runtime's own per-token cost, without HTTP: an in-memory provider iterated directly vs through runCrew.
  const memoryChunks: ChatChunk[] = tokens.map((text) => ({ type: 'text', text }));
  const memory: ChatProvider = {
    name: 'scripted',
    url: 'memory://',
    async *stream() {
      yield* memoryChunks;
      yield { type: 'usage', promptTokens: 1, completionTokens: TOKENS };
    },
  };
  const memoryCrew: CrewDefinition = {
    ...crew([]),
    agents: [{ name: 'a', role: 'r', goal: 'g', model: { provider: 'scripted', name: 'memory' } }],
  };
  async function memoryDirect(): Promise<number> {
    const started = performance.now();
    for await (const _chunk of memory.stream({} as never)) {
      // drain
    }
    return performance.now() - started;
  }
  async function memoryRuntime(): Promise<number> {
    const started = performance.now();
    for await (const _event of runCrew({ crew: memoryCrew, providers: { scripted: memory } })) {
      // drain
    }
    return performance.now() - started;
  }
  const [memoryDirectTimes, memoryRuntimeTimes] = await measure(memoryDirect, memoryRuntime);
  const pipelineUsPerToken =
    ((median(memoryRuntimeTimes.wall) - median(memoryDirectTimes.wall)) * 1000) / TOKENS;

  mode = 'stream';
  const [rawStreamTimes, runtimeStreamTimes] = await measure(rawStream, runtimeStream);
  mode = 'tool';
  const [rawToolTimes, runtimeToolTimes] = await measure(rawTool, runtimeTool);
  await server.close();

  // Paired ratios (each runtime sample against the raw sample taken next to it) cancel slow drift
  // in machine load; minimums approximate the cost on an idle machine.
  const pairedRatio = (raw: number[], runtime: number[]) =>
    median(runtime.map((value, i) => value / raw[i]!));
  const summarise = (raw: Samples, runtime: Samples) => ({
    rawMedianMs: median(raw.wall),
    runtimeMedianMs: median(runtime.wall),
    ratio: pairedRatio(raw.wall, runtime.wall),
    minRatio: Math.min(...runtime.wall) / Math.min(...raw.wall),
    rawCpuMedianMs: median(raw.cpu),
    runtimeCpuMedianMs: median(runtime.cpu),
    cpuRatio: pairedRatio(raw.cpu, runtime.cpu),
  });
  const stream = summarise(rawStreamTimes, runtimeStreamTimes);
  const tool = summarise(rawToolTimes, runtimeToolTimes);
  const results = {
    node: process.version,
    tokens: TOKENS,
    repetitions: REPETITIONS,
    note: 'Both sides include the in-process test server; CPU time is process-wide (client + server).',
    stream: {
      ...stream,
      overheadPerTokenUs: ((stream.runtimeMedianMs - stream.rawMedianMs) * 1000) / TOKENS,
    },
    toolRoundTrip: { ...tool, overheadMs: tool.runtimeMedianMs - tool.rawMedianMs },
    pipeline: {
      description:
        'runCrew over an in-memory provider minus iterating that provider directly (includes per-run setup)',
      usPerToken: pipelineUsPerToken,
      shareOfRawPerTokenCost: pipelineUsPerToken / ((stream.rawMedianMs * 1000) / TOKENS),
    },
  };
  const f = (n: number, digits = 2) => n.toFixed(digits);
  console.log(
    `\n@troupe/agents runtime vs raw openai client (Node ${process.version}, ${REPETITIONS} alternating reps)\n`,
  );
  console.log(
    '| scenario                       | raw ms (median) | runtime ms (median) | ratio (paired median) | ratio (min/min) | cpu ratio (paired) |',
  );
  console.log(
    '|--------------------------------|-----------------|---------------------|-----------------------|-----------------|--------------------|',
  );
  for (const [name, row] of [
    [`stream ${TOKENS} tokens`, stream],
    ['tool round trip (2 LLM calls)', tool],
  ] as const) {
    console.log(
      `| ${name.padEnd(30)} | ${f(row.rawMedianMs).padStart(15)} | ${f(row.runtimeMedianMs).padStart(19)} | ${f(row.ratio, 3).padStart(21)} | ${f(row.minRatio, 3).padStart(15)} | ${f(row.cpuRatio, 3).padStart(18)} |`,
    );
  }
  console.log(
    `\nruntime pipeline alone (in-memory provider): ${pipelineUsPerToken.toFixed(2)} µs/token = ${(results.pipeline.shareOfRawPerTokenCost * 100).toFixed(1)}% of the raw client's per-token time`,
  );
  console.log(
    `stream overhead: ${results.stream.overheadPerTokenUs.toFixed(2)} µs/token; tool round trip overhead: ${results.toolRoundTrip.overheadMs.toFixed(2)} ms`,
  );
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench-results', 'runtime.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
