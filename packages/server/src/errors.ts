import { GraphQLError } from 'graphql';

/** The fixed set of error codes the server answers with (mirrored by the SDK's TroupeError). */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_INPUT',
  'RATE_LIMITED',
  'CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403 };

/**
 * An expected error: its message and code reach the client unmasked. Anything else thrown
 * inside a resolver is masked as INTERNAL_SERVER_ERROR in production.
 */
export class TroupeServerError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(
    code: ErrorCode,
    message: string,
    extra: { field?: string; details?: Record<string, unknown> } = {},
  ) {
    const status = HTTP_STATUS[code];
    super(message, {
      extensions: {
        code,
        ...(extra.field ? { field: extra.field } : {}),
        ...(extra.details ? { details: extra.details } : {}),
        ...(status ? { http: { status } } : {}),
      },
    });
    this.name = 'TroupeServerError';
    this.code = code;
  }
}

export function badInput(field: string, rule: string): TroupeServerError {
  return new TroupeServerError('BAD_INPUT', `${field}: ${rule}`, { field });
}

export function notFound(what: string, id: string): TroupeServerError {
  return new TroupeServerError('NOT_FOUND', `${what} not found: ${id}`);
}
