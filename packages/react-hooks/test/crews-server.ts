import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: { query: string; variables?: Record<string, unknown>; operationName?: string };
}

export interface Reply {
  status?: number;
  body?: unknown;
  /** Never answer. */
  hang?: boolean;
}

export interface CrewsServer {
  url: string;
  requests: ReceivedRequest[];
  /** How many requests the client closed before an answer. */
  aborted: () => number;
  close(): Promise<void>;
}

/** A real HTTP server on port 0 standing in for the Troupe GraphQL endpoint, CORS included. */
export async function startCrewsServer(reply: (request: ReceivedRequest) => Reply): Promise<CrewsServer> {
  const requests: ReceivedRequest[] = [];
  let aborted = 0;
  const server = createServer(async (req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? '*');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = { headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
    requests.push(request);
    const answer = reply(request);
    if (answer.hang) {
      res.on('close', () => {
        if (!res.writableEnded) aborted++;
      });
      return;
    }
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/graphql-response+json' });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    aborted: () => aborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function crew(id: string, name: string) {
  return {
    id,
    name,
    description: '',
    process: 'SEQUENTIAL',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    manager: null,
    agents: [],
    tasks: [],
  };
}

export function crewsPage(crews: ReturnType<typeof crew>[], hasNextPage = false) {
  return {
    data: {
      crews: {
        edges: crews.map((node) => ({ cursor: node.id, node })),
        pageInfo: { endCursor: crews.at(-1)?.id ?? null, hasNextPage },
      },
    },
  };
}
