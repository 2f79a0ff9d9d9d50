import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TroupeYoga } from './yoga-app.js';

/**
 * Serves a request whose body comes without a Content-Length (chunked), which the size check on
 * that header cannot bound: reads at most `maxBytes` here, then hands the buffered body to yoga.
 * A longer body gets `tooLarge()` and is not read further.
 */
export function serveUnsizedBody(
  yoga: TroupeYoga,
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  tooLarge: () => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= maxBytes) return void chunks.push(chunk);
    // Answer now, read no further (the rest is discarded), and close the connection after.
    req.off('data', onData).off('end', onEnd);
    req.resume();
    res.setHeader('connection', 'close');
    tooLarge();
  };
  const onEnd = () => {
    forward(yoga, req, res, Buffer.concat(chunks)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
      req.destroy(err instanceof Error ? err : undefined);
    });
  };
  req
    .on('data', onData)
    .on('end', onEnd)
    .on('error', () => res.destroy());
}

async function forward(
  yoga: TroupeYoga,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'transfer-encoding' || name === 'content-length') continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  // The server context as yoga's node handler gives it (the shutdown gate tells streams by `res`).
  const response = await yoga.fetch(url, { method: req.method, headers, body }, { req, res });
  // Buffered: these are plain GraphQL requests (streaming clients send a sized body).
  const payload = Buffer.from(await response.arrayBuffer());
  const out: string[] = [];
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) out.push(name, value);
  });
  res.writeHead(response.status, [...out, 'content-length', String(payload.length)]);
  res.end(payload);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);
