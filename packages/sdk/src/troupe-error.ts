/** The fixed set of error codes the SDK reports. */
export const TROUPE_ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_INPUT',
  'RATE_LIMITED',
  'CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type TroupeErrorCode = (typeof TROUPE_ERROR_CODES)[number];

/** One error as the server sent it (GraphQL over HTTP `errors` entry). */
export interface GraphQLErrorPayload {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: Record<string, unknown>;
}

export interface TroupeErrorOptions {
  code: TroupeErrorCode;
  /** The input field that was rejected (BAD_INPUT). */
  field?: string;
  /** HTTP status of the response, when there was one. */
  status?: number;
  /** The raw GraphQL errors of the response. */
  errors?: ReadonlyArray<GraphQLErrorPayload>;
  cause?: unknown;
}

// A brand shared by every copy of the SDK (ESM and CJS builds loaded side by side), so the
// type guard does not depend on `instanceof`.
const brand = Symbol.for('troupe.sdk.error');

/** Every failure of a Troupe request, with a code from a fixed set. */
export class TroupeError extends Error {
  override readonly name = 'TroupeError';
  readonly code: TroupeErrorCode;
  readonly field?: string;
  readonly status?: number;
  readonly errors: ReadonlyArray<GraphQLErrorPayload>;

  constructor(message: string, options: TroupeErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    if (options.field !== undefined) this.field = options.field;
    if (options.status !== undefined) this.status = options.status;
    this.errors = options.errors ?? [];
    Object.defineProperty(this, brand, { value: true });
  }
}

/** True for errors thrown by any copy of `@troupe/sdk`. */
export function isTroupeError(error: unknown): error is TroupeError {
  return error instanceof TroupeError || (typeof error === 'object' && error !== null && brand in error);
}
