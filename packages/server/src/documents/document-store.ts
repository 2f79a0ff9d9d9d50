import { createHash } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { allows } from '../auth/scopes.js';
import type { Tx } from '../db/database.js';
import { badInput, TroupeServerError } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import { ExtractionError, extractText, normalizeMimeType, SUPPORTED_MIME_TYPES } from './extract-text.js';

export const DOCUMENT_NAME_MAX = 255;
export const DOCUMENT_METADATA_MAX_BYTES = 16_384;

/**
 * The documents a principal sees: API keys see every document of their tenant; a session token sees
 * the tenant's shared documents (uploaded with an API key) and the ones its own subject uploaded;
 * a session token limited to threads sees none, whatever the route (node(id:) included).
 */
export function documentScope(p: Principal): Prisma.DocumentWhereInput {
  if (p.kind !== 'session') return {};
  if (p.threadIds) return { id: { in: [] } };
  return { OR: [{ subject: null }, { subject: p.subject }] };
}

/**
 * The documents a principal may change (delete, reprocess): API keys, every document of their
 * tenant; a session token, only the ones its own subject uploaded. The shared ones it can read are
 * the tenant's, for every user and agent: one end user must not delete them for all.
 */
export function documentWriteScope(p: Principal): Prisma.DocumentWhereInput {
  if (p.kind !== 'session') return {};
  if (p.threadIds) return { id: { in: [] } };
  return { subject: p.subject };
}

/** A session token tried to change a document it can only read (one the tenant shares). */
export function sharedDocumentForbidden(): TroupeServerError {
  return new TroupeServerError(
    'FORBIDDEN',
    "Not allowed: this document is shared by the tenant; a session token can change only its own user's documents (use an API key).",
  );
}

/** Session tokens limited to threads cannot use documents; read-only keys cannot add or delete them. */
export function assertDocumentAccess(p: Principal, write: boolean): void {
  if (p.kind === 'admin') {
    throw new TroupeServerError('FORBIDDEN', 'The admin key can only create tenants; use a tenant API key.');
  }
  if (p.kind === 'session' && p.threadIds) {
    throw new TroupeServerError(
      'FORBIDDEN',
      `Not allowed: this session token is limited to threads (${p.threadIds.length}) and cannot use documents.`,
    );
  }
  if (write && !allows(p.scopes, 'write')) {
    throw new TroupeServerError(
      'FORBIDDEN',
      `Not allowed: adding or deleting documents needs the write scope (this ${p.kind === 'session' ? 'session token' : 'API key'} has: ${p.scopes.join(', ') || 'none'}).`,
    );
  }
}

export interface NewDocument {
  name: string;
  /** As sent (parameters such as charset are dropped). */
  mimeType: string | undefined;
  bytes: Uint8Array;
  metadata?: unknown;
}

export interface ValidatedDocument {
  name: string;
  mimeType: string;
  bytes: Uint8Array;
  metadata: Prisma.InputJsonObject;
}

type FieldNames = { name: string; mimeType: string; metadata: string; content: string };

/** Checks a new document's name, type and metadata; BAD_INPUT names the field at fault. */
export function validateDocumentFields(
  input: Omit<NewDocument, 'bytes'>,
  fields: FieldNames,
): Omit<ValidatedDocument, 'bytes'> {
  const name = input.name.trim();
  if (!name) throw badInput(fields.name, 'must not be empty');
  if (name.length > DOCUMENT_NAME_MAX) throw badInput(fields.name, `at most ${DOCUMENT_NAME_MAX} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) throw badInput(fields.name, 'must not contain control characters');
  const mimeType = normalizeMimeType(input.mimeType ?? 'text/plain');
  if (!mimeType) {
    throw new TroupeServerError(
      'BAD_INPUT',
      `${fields.mimeType}: unsupported type "${input.mimeType}"; supported: ${SUPPORTED_MIME_TYPES.join(', ')}`,
      { field: fields.mimeType, details: { supported: SUPPORTED_MIME_TYPES } },
    );
  }
  const metadata = input.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw badInput(fields.metadata, 'must be a JSON object');
  }
  const json = JSON.stringify(metadata);
  if (Buffer.byteLength(json) > DOCUMENT_METADATA_MAX_BYTES) {
    throw badInput(fields.metadata, `at most ${DOCUMENT_METADATA_MAX_BYTES} bytes of JSON`);
  }
  // Postgres's jsonb cannot hold the NUL character (it answered an internal error).
  if (hasNul(metadata)) throw badInput(fields.metadata, 'must not contain the NUL character (\\u0000)');
  return { name, mimeType, metadata: metadata as Prisma.InputJsonObject };
}

/** Whether a JSON value has the NUL character in a string or a key. */
function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).some(([k, v]) => k.includes('\0') || hasNul(v));
  return false;
}

/** Checks a new document's content: its size, and for text types that it is readable text. */
export async function validateDocumentContent(
  bytes: Uint8Array,
  mimeType: string,
  maxBytes: number,
  field: string,
): Promise<void> {
  if (bytes.length === 0) throw badInput(field, 'the document is empty');
  if (bytes.length > maxBytes) throw badInput(field, `at most ${maxBytes} bytes`);
  if (mimeType === 'application/pdf') {
    // PDFs are read when processed; here only their signature is checked.
    if (Buffer.from(bytes.subarray(0, 1024)).indexOf('%PDF-') < 0)
      throw badInput(field, 'not a PDF file (no %PDF- header)');
    return;
  }
  // Text that cannot be read is refused now, not later in processing.
  try {
    const text = await extractText(bytes, mimeType);
    if (!text.trim()) throw badInput(field, 'the document has no text');
  } catch (err) {
    if (err instanceof ExtractionError) throw badInput(field, err.message);
    throw err;
  }
}

/** Checks a whole new document. */
export async function validateDocument(
  input: NewDocument,
  maxBytes: number,
  fields: FieldNames,
): Promise<ValidatedDocument> {
  const checked = validateDocumentFields(input, fields);
  await validateDocumentContent(input.bytes, checked.mimeType, maxBytes, fields.content);
  return { ...checked, bytes: input.bytes };
}

/** Stores a validated document as PENDING; the ingest loop processes it. */
export async function insertDocument(tx: Tx, principal: Principal, doc: ValidatedDocument) {
  if (principal.kind === 'admin') throw new TroupeServerError('FORBIDDEN', 'Not a tenant principal.');
  const created = await tx.document.create({
    data: {
      tenantId: principal.tenantId,
      name: doc.name,
      mimeType: doc.mimeType,
      sizeBytes: doc.bytes.length,
      contentHash: createHash('sha256').update(doc.bytes).digest('hex'),
      metadata: doc.metadata,
      subject: principal.kind === 'session' ? principal.subject : null,
      source: doc.bytes as Uint8Array<ArrayBuffer>,
    },
    omit: { source: true },
  });
  await tx.auditEvent.create({
    data: {
      tenantId: principal.tenantId,
      actorType: principal.kind,
      actorId: principal.kind === 'session' ? `${principal.keyId}:${principal.subject}` : principal.keyId,
      action: 'document.create',
      targetType: 'Document',
      targetId: created.id,
      data: { name: doc.name, mimeType: doc.mimeType, sizeBytes: doc.bytes.length },
    },
  });
  return created;
}
