import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { type AuthDeps, authenticate, bearerToken } from '../auth/authenticate.js';
import { TroupeServerError } from '../errors.js';
import { sendJson } from '../http/json-response.js';
import {
  assertDocumentAccess,
  insertDocument,
  validateDocumentContent,
  validateDocumentFields,
} from './document-store.js';

export interface UploadEndpointOptions extends AuthDeps {
  /** Largest document accepted (413 beyond). */
  maxBytes: number;
  /** Origins allowed by CORS (as for /graphql); empty: same-origin only. */
  corsOrigins: string[];
  /** Called once a document is stored (the ingest loop looks for it at once). */
  onCreated?: () => void;
}

const STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_INPUT: 400,
  UNAVAILABLE: 503,
};

const FIELDS = {
  name: 'X-Troupe-Document-Name',
  mimeType: 'Content-Type',
  metadata: 'X-Troupe-Document-Metadata',
  content: 'body',
};

class UploadError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function cors(req: IncomingMessage, res: ServerResponse, origins: string[]): void {
  const origin = req.headers.origin;
  if (!origin || !origins.includes(origin)) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
  res.setHeader(
    'access-control-allow-headers',
    'authorization, content-type, x-troupe-document-name, x-troupe-document-metadata',
  );
  res.setHeader('access-control-max-age', '600');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  // A refusal may come before the whole body was read: the rest is not waited for.
  sendJson(res, status, body, status >= 400);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new UploadError(413, 'BAD_INPUT', `The document is too large: at most ${max} bytes.`, 'body');
  if (Number(header(req, 'content-length') ?? 0) > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        chunks.length = 0;
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new UploadError(400, 'BAD_INPUT', 'The upload was interrupted.')));
  });
}

function parseName(raw: string | undefined): string {
  if (raw === undefined) {
    throw new UploadError(
      400,
      'BAD_INPUT',
      'X-Troupe-Document-Name: required (the file name, URI-encoded).',
      FIELDS.name,
    );
  }
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new UploadError(400, 'BAD_INPUT', 'X-Troupe-Document-Name: not valid URI encoding.', FIELDS.name);
  }
}

function parseMetadata(raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  try {
    // Sent URI-encoded by the SDK (headers are Latin-1); plain JSON is accepted too.
    return JSON.parse(raw.trimStart().startsWith('{') ? raw : decodeURIComponent(raw));
  } catch {
    throw new UploadError(
      400,
      'BAD_INPUT',
      'X-Troupe-Document-Metadata: must be a JSON object (optionally URI-encoded).',
      FIELDS.metadata,
    );
  }
}

/**
 * POST /documents: the document's bytes as the body, its type in Content-Type and its name in
 * X-Troupe-Document-Name. Answers 201 with the stored (PENDING) document; processing follows.
 */
export async function handleDocumentUpload(
  opts: UploadEndpointOptions,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  cors(req, res, opts.corsOrigins);
  try {
    if (path !== '/documents' && path !== '/documents/') {
      throw new UploadError(404, 'NOT_FOUND', `Not found: ${path}. Upload documents with POST /documents.`);
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new UploadError(405, 'BAD_INPUT', 'Use POST to upload a document.');
    }
    // Who and what first: a refused upload is answered before its body is read.
    const principal = await authenticate(opts, bearerToken(header(req, 'authorization')));
    assertDocumentAccess(principal, true);
    const name = parseName(header(req, 'x-troupe-document-name'));
    const metadata = parseMetadata(header(req, 'x-troupe-document-metadata'));
    const mimeType = header(req, 'content-type');
    if (!mimeType) {
      throw new UploadError(
        400,
        'BAD_INPUT',
        'Content-Type: required (the document’s type, e.g. text/markdown).',
        FIELDS.mimeType,
      );
    }
    // Name, type (415) and metadata are checked before the body is read; the content once it is.
    let fields: ReturnType<typeof validateDocumentFields>;
    try {
      fields = validateDocumentFields({ name, mimeType, metadata }, FIELDS);
    } catch (err) {
      if (err instanceof TroupeServerError && err.extensions.field === FIELDS.mimeType) {
        throw new UploadError(415, 'BAD_INPUT', err.message, FIELDS.mimeType);
      }
      throw err;
    }
    const bytes = await readBody(req, opts.maxBytes);
    await validateDocumentContent(bytes, fields.mimeType, opts.maxBytes, FIELDS.content);
    const doc = { ...fields, bytes };
    if (principal.kind === 'admin') throw new TroupeServerError('FORBIDDEN', 'Use a tenant API key.');
    const created = await opts.database.withTenant(principal.tenantId, (tx) =>
      insertDocument(tx, principal, doc),
    );
    opts.onCreated?.();
    send(res, 201, {
      document: {
        id: encodeGlobalID('Document', created.id),
        name: created.name,
        mimeType: created.mimeType,
        sizeBytes: created.sizeBytes,
        status: created.status,
        createdAt: created.createdAt.toISOString(),
      },
    });
  } catch (err) {
    if (res.headersSent) return;
    if (err instanceof UploadError) {
      return send(res, err.status, {
        error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) },
      });
    }
    if (err instanceof TroupeServerError) {
      const field = err.extensions.field as string | undefined;
      return send(res, STATUS[err.code] ?? 400, {
        error: { code: err.code, message: err.message, ...(field ? { field } : {}) },
      });
    }
    console.error('troupe: document upload:', (err as Error).message);
    send(res, 500, { error: { code: 'INTERNAL', message: 'Internal error.' } });
  }
}
