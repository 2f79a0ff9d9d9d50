import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentsError, createHttpRequestTool } from '../src/index.js';

const context = { signal: new AbortController().signal, taskName: 't', agentName: 'a' };
let origin = '';
let hits: string[] = [];
const server = createServer((request, response) => {
  hits.push(request.url ?? '');
  if (request.url === '/to-private') {
    response.writeHead(302, { location: 'http://10.1.2.3/secret' });
    response.end();
  } else if (request.url === '/to-metadata') {
    response.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' });
    response.end();
  } else if (request.url === '/big') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('x'.repeat(5000));
  } else if (request.url === '/slow') {
    setTimeout(() => response.end('late'), 2000).unref();
  } else {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ method: request.method, body }));
    });
  }
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function refusal(tool: ReturnType<typeof createHttpRequestTool>, url: string): Promise<string> {
  try {
    await tool.invoke({ url }, context);
  } catch (error) {
    expect((error as AgentsError).code).toBe('TOOL_ERROR');
    return (error as Error).message;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe('http_request tool', () => {
  it('refuses loopback, private, link-local/metadata and non-http URLs without connecting', async () => {
    hits = [];
    const tool = createHttpRequestTool();
    expect(await refusal(tool, `${origin}/ok`)).toContain('127.0.0.1');
    expect(await refusal(tool, 'http://10.0.0.8/')).toContain('10.0.0.8 is a private address');
    expect(await refusal(tool, 'http://169.254.169.254/latest/meta-data/')).toContain(
      '169.254.169.254 is a cloud metadata endpoint',
    );
    // Azure's WireServer is a public address: only the metadata rule refuses it.
    expect(await refusal(tool, 'http://168.63.129.16/machine?comp=goalstate')).toContain(
      '168.63.129.16 is a cloud metadata endpoint',
    );
    expect(await refusal(tool, 'http://[::1]/')).toContain('::1');
    expect(await refusal(tool, 'http://[::ffff:127.0.0.1]/')).toContain('refused');
    expect(await refusal(tool, 'http://192.168.1.1/')).toContain('refused');
    expect(await refusal(tool, 'http://metadata.google.internal/')).toContain('metadata');
    expect(await refusal(tool, 'file:///etc/passwd')).toContain('only http and https');
    expect(hits).toEqual([]);
  });

  it('refuses a hostname whose DNS answer is a private address', async () => {
    hits = [];
    const port = new URL(origin).port;
    // A public-looking name whose DNS answer points at our loopback server (DNS rebinding style).
    const resolveHost = async (hostname: string) =>
      hostname === 'rebind.example.test'
        ? [{ address: '127.0.0.1', family: 4 }]
        : [{ address: '93.184.215.14', family: 4 }];
    const tool = createHttpRequestTool({ resolveHost });
    const message = await refusal(tool, `http://rebind.example.test:${port}/ok`);
    expect(message).toContain('resolves to non-public address 127.0.0.1');
    expect(hits).toEqual([]);
    // The same resolver with the name allow-listed does connect: the refusal above came from the DNS check.
    const allowed = createHttpRequestTool({ resolveHost, allowHosts: ['rebind.example.test'] });
    await expect(
      allowed.invoke({ url: `http://rebind.example.test:${port}/ok` }, context),
    ).resolves.toMatchObject({
      status: 200,
    });
  });

  it('fetches allow-listed hosts, but re-checks every redirect hop', async () => {
    hits = [];
    const tool = createHttpRequestTool({ allowHosts: ['127.0.0.1'] });
    const ok = (await tool.invoke({ url: `${origin}/echo`, method: 'POST', body: 'ping' }, context)) as {
      status: number;
      body: string;
    };
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ method: 'POST', body: 'ping' });
    expect(await refusal(tool, `${origin}/to-private`)).toContain('10.1.2.3');
    expect(await refusal(tool, `${origin}/to-metadata`)).toContain('169.254.169.254');
    expect(hits).toEqual(['/echo', '/to-private', '/to-metadata']);
  });

  it('enforces the size and time limits', async () => {
    const tool = createHttpRequestTool({ allowHosts: ['127.0.0.1'], maxResponseBytes: 1000, timeoutMs: 200 });
    const big = (await tool.invoke({ url: `${origin}/big` }, context)) as {
      body: string;
      truncated: boolean;
    };
    expect(big.body).toHaveLength(1000);
    expect(big.truncated).toBe(true);
    const started = Date.now();
    const message = await refusal(tool, `${origin}/slow`);
    expect(message).toContain('timed out');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('keeps its time limit through a garbage collection while it waits', async () => {
    // Node 20 holds the sources of AbortSignal.any weakly: a timeout signal nobody else holds is
    // collected, and the request then waits for the server however long it takes.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const tool = createHttpRequestTool({ allowHosts: ['127.0.0.1'], timeoutMs: 300 });
    const started = Date.now();
    const pending = refusal(tool, `${origin}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    expect(await pending).toContain('timed out after 300 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
