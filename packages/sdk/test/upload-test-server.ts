import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedUpload {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Bytes received by the time each piece arrived. */
  receivedAt: number[];
}

export interface UploadReply {
  status?: number;
  /** Serialized as JSON unless a string. */
  body?: unknown;
}

export interface UploadTestServer {
  /** Base URL (the SDK posts to `${url}/documents`). */
  url: string;
  uploads: ReceivedUpload[];
  /** Requests whose body the client stopped sending (an aborted upload). */
  aborted(): number;
  close(): Promise<void>;
}

export interface UploadServerOptions {
  /** Stop reading the body for this long after its first piece (so the client must wait). */
  stallMs?: number;
}

/**
 * A stand-in for the upload endpoint on port 0: reads the raw body, then answers with
 * `reply(upload)`. Allows cross-origin requests, as the real server does for its configured origins.
 */
export async function startUploadServer(
  reply: (upload: ReceivedUpload) => UploadReply,
  options: UploadServerOptions = {},
): Promise<UploadTestServer> {
  const uploads: ReceivedUpload[] = [];
  let aborted = 0;
  const server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', '*');
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const chunks: Buffer[] = [];
    const receivedAt: number[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      if (received === 0 && options.stallMs) {
        req.pause();
        setTimeout(() => req.resume(), options.stallMs);
      }
      chunks.push(chunk);
      received += chunk.length;
      receivedAt.push(received);
    });
    res.on('close', () => {
      if (!res.writableEnded) aborted++;
    });
    req.on('end', () => {
      const upload: ReceivedUpload = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt,
      };
      uploads.push(upload);
      const answer = reply(upload);
      res.writeHead(answer.status ?? 201, { 'content-type': 'application/json' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    uploads,
    aborted: () => aborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The endpoint's answer for a stored upload. */
export function created(upload: ReceivedUpload): UploadReply {
  return {
    status: 201,
    body: {
      document: {
        id: 'RG9jdW1lbnQ6MQ==',
        name: decodeURIComponent(String(upload.headers['x-troupe-document-name'])),
        mimeType: upload.headers['content-type'],
        sizeBytes: upload.body.length,
        status: 'PENDING',
        createdAt: '2026-11-22T00:00:00.000Z',
      },
    },
  };
}
