import type { ServerResponse } from 'node:http';

/**
 * Answers with a JSON body. `closeConnection`: the request's body may not have been read (a refusal
 * before or while reading it), so the connection ends rather than waiting for the rest.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, closeConnection = false): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    ...(closeConnection ? { connection: 'close' } : {}),
  });
  res.end(JSON.stringify(body));
}
