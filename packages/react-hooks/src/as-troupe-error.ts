import { isTroupeError, TroupeError } from '@troupe/sdk';

/** Any failure as a TroupeError (hooks report only those). */
export function asTroupeError(error: unknown): TroupeError {
  if (isTroupeError(error)) return error;
  return new TroupeError(error instanceof Error ? error.message : String(error), {
    code: 'INTERNAL',
    cause: error,
  });
}
