import { decodeGlobalID } from '@pothos/plugin-relay';
import { badInput } from '../errors.js';

/** Decodes a global id, insisting on its type; a malformed id is BAD_INPUT naming the field. */
export function parseGlobalId(field: string, value: string, typename: string): string {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(value);
  } catch {
    throw badInput(field, `"${value.slice(0, 64)}" is not a valid ${typename} id`);
  }
  if (!decoded.id || decoded.typename !== typename) {
    throw badInput(
      field,
      `expected a ${typename} id, got ${decoded.typename ? `a ${decoded.typename} id` : 'a malformed id'}`,
    );
  }
  return decoded.id;
}
