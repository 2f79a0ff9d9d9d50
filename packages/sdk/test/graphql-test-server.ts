import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** Serialized as JSON unless a string. */
  body?: unknown;
  /** Close the connection without answering (a network failure). */
  destroy?: boolean;
  /** Never answer; resolves `closed` when the client goes away. */
  hang?: boolean;
}

export interface TestServer {
  /** Base URL, without `/graphql`. */
  url: string;
  requests: ReceivedRequest[];
  /** Resolves when a hung request's connection is closed by the client. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** A GraphQL-over-HTTP stand-in on port 0 that answers each request with `reply(request, index)`. */
export async function startTestServer(
  reply: (request: ReceivedRequest, index: number) => Reply | Promise<Reply>,
): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const server = createServer(async (req, res: ServerResponse) => {
    // Browsers (and happy-dom) preflight cross-origin POSTs with an Authorization header.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', '*');
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request: ReceivedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    requests.push(request);
    const answer = await reply(request, requests.length - 1);
    if (answer.destroy) {
      req.socket.destroy();
      return;
    }
    if (answer.hang) {
      res.on('close', () => markClosed());
      return;
    }
    const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? null);
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/graphql-response+json; charset=utf-8',
      ...answer.headers,
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    closed,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A GraphQL error response body. */
export function graphqlErrors(message: string, extensions: Record<string, unknown>) {
  return { errors: [{ message, extensions }], data: null };
}
