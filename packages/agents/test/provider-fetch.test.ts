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
import { AgentsError, createOpenAIProvider, runCrew } from '../src/index.js';
import { providerFetch, providerFetchTimeouts } from '../src/providers/node-http-fetch.js';
import { collectEvents, testAgent } from './support/run-helpers.js';

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

// The fetch itself, as the clients call it.
const fetchFn = providerFetch();

/** Resolves when the server sees the connection of its latest request close. */
function closed(): Promise<void> {
  return new Promise((resolve) => {
    server.once('request', (req: http.IncomingMessage) => req.socket.once('close', () => resolve()));
  });
}

it('a body never read and cancelled, whose gzip is broken, closes quietly', async () => {
  handler = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
    res.end('<html>not gzip at all</html>');
  };
  const res = await fetchFn(`${url}/x`);
  expect(res.status).toBe(503);
  await new Promise((resolve) => setTimeout(resolve, 50));
  // What openai's CancelReadableStream does with an async-iterable body.
  await (res.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]().return?.();
  const again = await fetchFn(`${url}/x`);
  await expect(again.text()).rejects.toThrow('terminated');
});

it('an abort after the headers, before any read, closes the connection', async () => {
  const gone = closed();
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('a'));
  };
  const ac = new AbortController();
  const res = await fetchFn(`${url}/x`, { signal: ac.signal });
  ac.abort();
  await gone;
  await expect(res.text()).rejects.toMatchObject({ name: 'AbortError' });
});

it('a body that stops decoding mid-stream fails and closes the connection', async () => {
  const gone = closed();
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
    res.write(zlib.gzipSync(sse(['ok'])).subarray(0, 20));
    res.write(Buffer.from('garbage that is not deflate data at all, not at all'));
  };
  const res = await fetchFn(`${url}/x`);
  await expect(res.text()).rejects.toThrow('terminated');
  await gone;
});

it('a connection lost before the first read fails the read instead of hanging', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('a'));
    setTimeout(() => res.socket?.destroy(), 10);
  };
  const res = await fetchFn(`${url}/x`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await expect(res.text()).rejects.toThrow('terminated');
});

it('a redirect to another origin leaves the credentials behind; a 303 turns the POST into a GET', async () => {
  const seen: { method?: string; url?: string; authorization?: string }[] = [];
  const other = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    req.resume();
    res.end('there');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherUrl = `http://localhost:${(other.address() as AddressInfo).port}`;
  try {
    handler = (req, res) => {
      const to =
        req.url === '/same'
          ? '/target'
          : req.url === '/see-other'
            ? `${otherUrl}/result`
            : `${otherUrl}/moved`;
      if (req.url === '/target') {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
        res.end('here');
        return;
      }
      res.writeHead(req.url === '/see-other' ? 303 : 307, { location: to });
      res.end();
    };
    const init = { method: 'POST', body: '{}', headers: { authorization: 'Bearer sk-secret' } };
    expect(await (await fetchFn(`${url}/same`, init)).text()).toBe('here');
    expect(await (await fetchFn(`${url}/cross`, init)).text()).toBe('there');
    expect(await (await fetchFn(`${url}/see-other`, init)).text()).toBe('there');
    expect(seen).toEqual([
      { method: 'POST', url: '/target', authorization: 'Bearer sk-secret' },
      { method: 'POST', url: '/moved', authorization: undefined },
      { method: 'GET', url: '/result', authorization: undefined },
    ]);
    expect(requests).toEqual(['POST /same', 'POST /target', 'POST /cross', 'POST /see-other']);
  } finally {
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  }
});

it('refuses a redirect out of http(s) and a pile of content-encodings', async () => {
  handler = (req, res) => {
    if (req.url === '/data') {
      res.writeHead(302, { location: 'data:text/plain,evil' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-encoding': Array(6).fill('gzip').join(', ') });
    res.end('x');
  };
  await expect(fetchFn(`${url}/data`)).rejects.toThrow('fetch failed');
  await expect(fetchFn(`${url}/codings`)).rejects.toThrow('fetch failed');
});

it('a silent server times out; a body waiting for its reader does not', async () => {
  const saved = { ...providerFetchTimeouts };
  providerFetchTimeouts.idleMs = 300;
  try {
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (req.url === '/silent') {
        res.write('first\n');
        return;
      }
      // One chunk at a time, so that the unread ones pile up past the point where the body
      // pauses its socket.
      let i = 0;
      const timer = setInterval(() => {
        res.write(`line ${i}\n`);
        if (++i === 200) {
          clearInterval(timer);
          res.end();
        }
      }, 1);
    };
    await expect((await fetchFn(`${url}/silent`)).text()).rejects.toMatchObject({
      message: 'terminated',
      cause: { message: expect.stringContaining('timed out') },
    });
    const res = await fetchFn(`${url}/many`);
    const it = (res.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let text = String((await it.next()).value);
    await new Promise((resolve) => setTimeout(resolve, 900));
    for (let r = await it.next(); !r.done; r = await it.next()) text += String(r.value);
    expect(text.trim().split('\n')).toHaveLength(200);
  } finally {
    Object.assign(providerFetchTimeouts, saved);
  }
});

it('runs whose settings differ only in their fetch each use their own', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(sse(['ok']));
  };
  const calls = { a: 0, b: 0 };
  const counting = (name: 'a' | 'b'): typeof fetch => {
    return (input, init) => {
      calls[name]++;
      return fetch(input, init);
    };
  };
  const crew = {
    name: 'c',
    agents: [testAgent('writer', { provider: 'openai' as const, name: 'm', baseUrl: `${url}/v1` })],
    tasks: [{ name: 'write', description: 'Write', agent: 'writer' }],
  };
  for (const name of ['a', 'b'] as const) {
    const events = await collectEvents(
      runCrew({ crew, inputs: {}, providers: { openai: { apiKey: 'k', fetch: counting(name) } } }),
    );
    expect(events.at(-1)?.type).toBe('RUN_SUCCEEDED');
  }
  expect(calls).toEqual({ a: 1, b: 1 });
});
