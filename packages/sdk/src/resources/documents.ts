import { graphql } from '../generated/gql';
import type {
  CreateDocumentInput,
  DocumentFieldsFragment,
  DocumentStatus,
  DocumentsQueryVariables,
  SearchDocumentsQuery,
} from '../generated/graphql';
import type { UploadSettings } from '../transport/document-upload';
import { sleep } from '../transport/retry-policy';
import { isTroupeError, TroupeError } from '../troupe-error';
import type { RequestOptions, RunDocument } from '../typed-document';
import { type Page, toPage } from './page';

/** A document: a file whose text is split into chunks and embedded for search. */
export type Document = DocumentFieldsFragment;
/** One chunk of a document that matches a search, with its document. */
export type DocumentSearchHit = SearchDocumentsQuery['searchDocuments'][number];
/** What the upload endpoint answers: the new document, before it is processed. */
export type UploadedDocument = Pick<
  Document,
  'id' | 'name' | 'mimeType' | 'sizeBytes' | 'status' | 'createdAt'
>;

/** How much of an upload's body has been sent. */
export interface UploadProgress {
  /** Bytes sent so far; never goes down, and equals `total` at the end. */
  loaded: number;
  /** The size of the body in bytes. */
  total: number;
}

/** What `upload()` sends: a File or Blob as is, bytes, or text (UTF-8). */
export type UploadData = Blob | ArrayBuffer | ArrayBufferView | string;

export interface UploadDocumentOptions extends RequestOptions {
  /** The document's name; default: the File's name (required for other data). */
  name?: string;
  /**
   * The content type; default: the Blob's type, `text/plain` for text, a type guessed from the name's
   * extension (.md, .txt, .csv, .html, .json, .pdf), else `application/octet-stream`.
   */
  mimeType?: string;
  /** Any JSON object, stored with the document. */
  metadata?: Record<string, unknown>;
  /** Called as the body is sent (in browsers, with XMLHttpRequest's upload progress). */
  onProgress?: (progress: UploadProgress) => void;
}

export interface ListDocumentsOptions {
  /** Page size. */
  first?: number;
  /** `pageInfo.endCursor` of the previous page. */
  after?: string;
  /** Only documents with this status. */
  status?: DocumentStatus;
}

export interface SearchDocumentsOptions {
  /** How many hits at most (1 to 50, default 5). */
  limit?: number;
  /** Only chunks of these documents. */
  documentIds?: string[];
  /** Only hits at least this similar (cosine similarity, -1 to 1). */
  minScore?: number;
  /** Only documents whose metadata contains this object, e.g. `{ team: 'support' }`. */
  metadata?: Record<string, unknown>;
}

export interface WaitUntilReadyOptions {
  /** Time between two looks at the document. Default 250 ms. */
  intervalMs?: number;
  /** Gives up after this long with a TroupeError `UNAVAILABLE`. Default: no limit. */
  timeoutMs?: number;
  /** Stops waiting; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface DocumentsResource {
  /**
   * Uploads a file (raw body, `POST /documents`) and resolves once the server has stored it, before
   * it is processed (`status` PENDING): follow with `waitUntilReady(id)`. Reports progress with
   * `onProgress`. Not retried: an upload that failed may be sent again by the caller.
   */
  upload(data: UploadData, options?: UploadDocumentOptions): Promise<UploadedDocument>;
  /** Creates a document from text (through GraphQL); processed like an upload. */
  create(input: CreateDocumentInput, options?: RequestOptions): Promise<Document>;
  /** One document; null when this caller can see no document with this id. */
  get(id: string, options?: RequestOptions): Promise<Document | null>;
  /** Documents, newest first (a session token sees its own uploads and the tenant's). */
  list(variables?: ListDocumentsOptions, options?: RequestOptions): Promise<Page<Document>>;
  /** Deletes a document with its chunks. */
  delete(id: string, options?: RequestOptions): Promise<{ deletedId: string }>;
  /**
   * Splits and embeds a document again with the server's current embedder (after a change of
   * TROUPE_EMBEDDINGS, or to try a FAILED one again); it is PENDING, and not searchable, until READY.
   * Throws a `TroupeError` with code `CONFLICT` while the document is being processed.
   */
  reprocess(id: string, options?: RequestOptions): Promise<Document>;
  /** The chunks most similar to `query`, best first. */
  search(
    query: string,
    variables?: SearchDocumentsOptions,
    options?: RequestOptions,
  ): Promise<DocumentSearchHit[]>;
  /**
   * Looks at the document every `intervalMs` until it is READY and resolves to it; rejects with a
   * TroupeError `BAD_INPUT` (the document's `error` as message) when processing FAILED.
   */
  waitUntilReady(id: string, options?: WaitUntilReadyOptions): Promise<Document>;
}

graphql(`
  fragment DocumentFields on Document {
    id
    name
    mimeType
    sizeBytes
    status
    error
    metadata
    chunkCount
    progress
    embeddingModel
    subject
    createdAt
    updatedAt
  }
`);

const CreateDocumentDocument = graphql(`
  mutation CreateDocument($input: CreateDocumentInput!) {
    createDocument(input: $input) {
      document {
        ...DocumentFields
      }
    }
  }
`);

const DocumentByIdDocument = graphql(`
  query Document($id: ID!) {
    document(id: $id) {
      ...DocumentFields
    }
  }
`);

const DocumentsDocument = graphql(`
  query Documents($first: Int, $after: String, $status: DocumentStatus) {
    documents(first: $first, after: $after, status: $status) {
      edges {
        node {
          ...DocumentFields
        }
      }
      pageInfo {
        endCursor
        hasNextPage
        startCursor
        hasPreviousPage
      }
    }
  }
`);

const DeleteDocumentDocument = graphql(`
  mutation DeleteDocument($id: ID!) {
    deleteDocument(id: $id) {
      deletedId
    }
  }
`);

const ReprocessDocumentDocument = graphql(`
  mutation ReprocessDocument($id: ID!) {
    reprocessDocument(id: $id) {
      document {
        ...DocumentFields
      }
    }
  }
`);

const SearchDocumentsDocument = graphql(`
  query SearchDocuments($input: SearchDocumentsInput!) {
    searchDocuments(input: $input) {
      score
      content
      chunkIndex
      document {
        ...DocumentFields
      }
    }
  }
`);

export function documentsResource(run: RunDocument, upload: UploadSettings): DocumentsResource {
  const get = async (id: string, options?: RequestOptions) => {
    try {
      return (await run(DocumentByIdDocument, { id }, options)).document;
    } catch (error) {
      if (isTroupeError(error) && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  };
  return {
    // The upload transport (XMLHttpRequest or a streamed fetch) loads on the first upload.
    async upload(data, options) {
      return (await import('../transport/document-upload')).uploadDocument(upload, data, options);
    },
    async create(input, options) {
      return (await run(CreateDocumentDocument, { input }, options)).createDocument.document;
    },
    get,
    async list(variables, options) {
      const vars: DocumentsQueryVariables = {
        first: variables?.first,
        after: variables?.after,
        status: variables?.status,
      };
      return toPage((await run(DocumentsDocument, vars, options)).documents);
    },
    async delete(id, options) {
      const { deletedId } = (await run(DeleteDocumentDocument, { id }, options)).deleteDocument;
      return { deletedId };
    },
    async reprocess(id, options) {
      return (await run(ReprocessDocumentDocument, { id }, options)).reprocessDocument.document;
    },
    async search(query, variables, options) {
      const input = {
        query,
        limit: variables?.limit,
        documentIds: variables?.documentIds,
        minScore: variables?.minScore,
        metadata: variables?.metadata,
      };
      return (await run(SearchDocumentsDocument, { input }, options)).searchDocuments;
    },
    async waitUntilReady(id, { intervalMs = 250, timeoutMs, signal } = {}) {
      const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
      for (;;) {
        const document = await get(id, signal ? { signal } : undefined);
        if (!document) throw new TroupeError(`No document ${id}`, { code: 'NOT_FOUND' });
        if (document.status === 'READY') return document;
        if (document.status === 'FAILED') {
          throw new TroupeError(document.error || `Document ${id} could not be processed`, {
            code: 'BAD_INPUT',
          });
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new TroupeError(`Document ${id} was not ready after ${timeoutMs} ms (${document.status})`, {
            code: 'UNAVAILABLE',
          });
        }
        await sleep(Math.min(intervalMs, left), signal);
      }
    },
  };
}
