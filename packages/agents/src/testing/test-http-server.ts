import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the test server saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
  /** `Date.now()` when the request arrived. */
  receivedAt: number;
  /** `Date.now()` when the response ended or the client went away. */
  endedAt: number | undefined;
  /** True when the client closed the connection before the response was complete. */
  aborted: boolean;
}

export interface TestHttpServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export type TestRoute = (
  request: RecordedRequest,
  response: ServerResponse,
  raw: IncomingMessage,
) => Promise<void> | void;

/** A node:http server on 127.0.0.1, port 0, that records every request. */
export async function startTestHttpServer(route: TestRoute): Promise<TestHttpServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((raw, response) => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      const record: RecordedRequest = {
        method: raw.method ?? 'GET',
        path: (raw.url ?? '/').split('?')[0] ?? '/',
        headers: raw.headers,
        body,
        receivedAt: Date.now(),
        endedAt: undefined,
        aborted: false,
      };
      requests.push(record);
      response.on('close', () => {
        record.endedAt = Date.now();
        if (!response.writableFinished) record.aborted = true;
      });
      Promise.resolve(route(record, response, raw)).catch((error: unknown) => {
        if (!response.headersSent) {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { message: String(error) } }));
        } else {
          response.destroy();
        }
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { origin: `http://127.0.0.1:${port}`, requests, close, [Symbol.asyncDispose]: close };
}

/** Waits `ms`, resolving early (false) when the response closes. */
export function waitUnlessClosed(ms: number, response: ServerResponse): Promise<boolean> {
  if (response.destroyed || response.writableEnded) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      response.off('close', onClose);
      resolve(true);
    }, ms);
    response.once('close', onClose);
  });
}

/** Splits text into word-sized pieces ("tokens"), keeping leading whitespace. */
export function splitTokens(text: string): string[] {
  return text.match(/\s*\S+\s*$|\s*\S+/g) ?? (text ? [text] : []);
}

/** Rough token estimate the test servers report as prompt usage: JSON length / 4. */
export function estimatePromptTokens(messages: unknown): number {
  return Math.ceil(JSON.stringify(messages ?? []).length / 4);
}
