import { TroupeError } from './troupe-error';

/**
 * A GraphQL document that carries its result and variables types: the documents made by
 * GraphQL Code Generator's client preset (`TypedDocumentString`, `documentMode: 'string'`) fit,
 * as does any `DocumentTypeDecoration` from `@graphql-typed-document-node/core` whose
 * `toString()` is the document text.
 */
export interface TypedDocument<TResult, TVariables> {
  __apiType?: (variables: TVariables) => TResult;
  toString(): string;
}

/** The result type of a typed document. */
export type ResultOf<TDocument> = TDocument extends TypedDocument<infer TResult, infer _> ? TResult : never;

/** The variables type of a typed document. */
export type VariablesOf<TDocument> =
  TDocument extends TypedDocument<infer _, infer TVariables> ? TVariables : never;

export interface RequestOptions {
  /** Aborts the request (and any pending retry). The promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Extra headers for this request only. */
  headers?: Record<string, string>;
}

/** Variables are optional exactly when the operation has no required variable. */
export type RequestArgs<TVariables> = {} extends TVariables
  ? [variables?: TVariables, options?: RequestOptions]
  : [variables: TVariables, options?: RequestOptions];

/** Runs a typed document; what resource helpers are built on. */
export type RunDocument = <TResult, TVariables>(
  document: TypedDocument<TResult, TVariables>,
  variables: TVariables | undefined,
  options: RequestOptions | undefined,
) => Promise<TResult>;

/** The text of a document: a string, a TypedDocumentString, or a parsed document that kept its source. */
export function documentText(document: unknown): string {
  if (typeof document === 'string') return document;
  if (document instanceof String) return document.toString();
  const body = (document as { loc?: { source?: { body?: unknown } } } | null)?.loc?.source?.body;
  if (typeof body === 'string') return body;
  throw new TroupeError(
    'Pass the document as a string (GraphQL Code Generator documentMode "string"), or print() a DocumentNode first',
    { code: 'BAD_INPUT' },
  );
}
