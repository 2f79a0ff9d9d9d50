// The providers' HTTP client (Node's http, not the built-in fetch) against a real server: what the
// `openai` client sees must be what the built-in fetch would have given it, connection reuse,
// compressed bodies, redirects, a server that goes away mid-stream, and an undici dispatcher a
// host app installed (a MockAgent here) all included.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { HumanMessage } from '@langchain/core/messages';
import { getGlobalDispatcher, MockAgent, setGlobalDispatcher } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AgentsError, createOpenAIProvider } from '../src/index.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

let server: http.Server;
let url: string;
let connections = 0;
let requests: string[] = [];
let handler: Handler;

beforeEach(async () => {
  connections = 0;
  requests = [];
  server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function chunk(text: string): string {
  const body = {
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'm',
    choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

const sse = (texts: string[]) => `${texts.map(chunk).join('')}data: [DONE]\n\n`;

async function complete(baseUrl = `${url}/v1`): Promise<string> {
  const provider = createOpenAIProvider({ baseUrl, apiKey: 'k' });
  let text = '';
  for await (const c of provider.stream({
    model: 'm',
    messages: [new HumanMessage('hi')],
    signal: new AbortController().signal,
  })) {
    if (c.type === 'text') text += c.text;
  }
  return text;
}

it('keeps one connection alive across calls, and streams every chunk in order', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const texts = Array.from({ length: 50 }, (_, i) => `t${i} `);
    for (const t of texts) res.write(chunk(t));
    res.end('data: [DONE]\n\n');
  };
  const expected = Array.from({ length: 50 }, (_, i) => `t${i} `).join('');
  expect(await complete()).toBe(expected);
  expect(await complete()).toBe(expected);
  expect(await complete()).toBe(expected);
  expect(requests).toEqual(Array(3).fill('POST /v1/chat/completions'));
  expect(connections).toBe(1);
});

it('decodes a gzip-compressed stream', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
    res.end(zlib.gzipSync(sse(['com', 'pressed'])));
  };
  expect(await complete()).toBe('compressed');
});

it('follows a redirect', async () => {
  handler = (req, res) => {
    if (req.url === '/old/chat/completions') {
      res.writeHead(307, { location: '/v1/chat/completions' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(sse(['moved']));
  };
  expect(await complete(`${url}/old`)).toBe('moved');
  expect(requests).toEqual(['POST /old/chat/completions', 'POST /v1/chat/completions']);
});

it('a server that goes away mid-stream is a retryable PROVIDER_UNREACHABLE, not a short answer', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('half '));
    setTimeout(() => res.socket?.destroy(), 20);
  };
  const error = await complete().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AgentsError);
  expect((error as AgentsError).code).toBe('PROVIDER_UNREACHABLE');
  expect((error as AgentsError).details).toMatchObject({ retryable: true });
  expect((error as AgentsError).message).toContain(url);
});

it('an error status keeps its body and headers', async () => {
  handler = (_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
    res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }));
  };
  const error = (await complete().catch((e: unknown) => e)) as AgentsError;
  expect(error.code).toBe('PROVIDER_ERROR');
  expect(error.message).toContain('HTTP 429');
  expect(error.message).toContain('slow down');
  expect(error.details).toMatchObject({ retryable: true, retryAfterMs: 7000 });
});

it('an undici dispatcher the host app installed (a MockAgent) answers the calls', async () => {
  const previous = getGlobalDispatcher();
  const agent = new MockAgent();
  agent.disableNetConnect();
  agent
    .get(url)
    .intercept({ path: '/v1/chat/completions', method: 'POST' })
    .reply(200, sse(['from ', 'the mock']), { headers: { 'content-type': 'text/event-stream' } });
  setGlobalDispatcher(agent);
  try {
    expect(await complete()).toBe('from the mock');
    expect(requests).toEqual([]);
  } finally {
    setGlobalDispatcher(previous);
    await agent.close();
  }
});
