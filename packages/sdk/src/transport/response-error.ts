import {
  type GraphQLErrorPayload,
  TROUPE_ERROR_CODES,
  TroupeError,
  type TroupeErrorCode,
} from '../troupe-error';

const knownCodes: ReadonlySet<string> = new Set(TROUPE_ERROR_CODES);

// Codes sent by GraphQL servers (graphql-yoga, Apollo) that are not Troupe's own.
const foreignCodes: Readonly<Record<string, TroupeErrorCode>> = {
  INTERNAL_SERVER_ERROR: 'INTERNAL',
  GRAPHQL_VALIDATION_FAILED: 'BAD_INPUT',
  GRAPHQL_PARSE_FAILED: 'BAD_INPUT',
  BAD_USER_INPUT: 'BAD_INPUT',
  BAD_REQUEST: 'BAD_INPUT',
  PERSISTED_QUERY_NOT_FOUND: 'BAD_INPUT',
};

/** The code an HTTP status stands for when the body names none. */
export function codeFromStatus(status: number | undefined): TroupeErrorCode {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return 'BAD_INPUT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 429:
      return 'RATE_LIMITED';
    case 502:
    case 503:
    case 504:
      return 'UNAVAILABLE';
    default:
      return 'INTERNAL';
  }
}

function codeOf(error: GraphQLErrorPayload, status: number | undefined): TroupeErrorCode {
  const code = error.extensions?.code;
  if (typeof code === 'string') {
    if (knownCodes.has(code)) return code as TroupeErrorCode;
    const mapped = foreignCodes[code];
    if (mapped) return mapped;
  }
  return status !== undefined && status >= 400 ? codeFromStatus(status) : 'INTERNAL';
}

/** A TroupeError for a response whose body carried GraphQL errors. */
export function errorFromGraphQLErrors(
  errors: ReadonlyArray<GraphQLErrorPayload>,
  status: number | undefined,
): TroupeError {
  const first = errors[0];
  const message = first?.message || 'The request failed';
  const code = first ? codeOf(first, status) : codeFromStatus(status);
  const field = first?.extensions?.field;
  return new TroupeError(message, {
    code,
    ...(typeof field === 'string' ? { field } : {}),
    ...(status !== undefined ? { status } : {}),
    errors,
  });
}

/** A TroupeError for a response without a usable GraphQL body (proxy error page, empty body). */
export function errorFromStatus(status: number, statusText: string): TroupeError {
  const code = codeFromStatus(status);
  const reason = statusText ? `${status} ${statusText}` : String(status);
  const message =
    status >= 200 && status < 300
      ? `The server answered ${reason} without a GraphQL response`
      : `The server answered HTTP ${reason}`;
  return new TroupeError(message, { code, status });
}

/** Keeps only well-formed error entries, so callers can rely on `message` being a string. */
export function readGraphQLErrors(value: unknown): GraphQLErrorPayload[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return value.map((entry): GraphQLErrorPayload => {
    if (typeof entry === 'object' && entry !== null && typeof entry.message === 'string') return entry;
    return { message: String(entry) };
  });
}
