export type OperationType = 'query' | 'mutation' | 'subscription';

export interface OperationInfo {
  /** Undefined when the text holds no operation (only fragments, or nothing). */
  type: OperationType | undefined;
  name: string | undefined;
}

// Strings, block strings and comments can hold braces and keywords: blank them out first.
const ignored = /"""[\s\S]*?"""|"(?:[^"\\\n\r]|\\.)*"|#[^\n\r]*/g;
// Punctuation that can follow the keyword of an unnamed operation is kept, so that it is not taken
// for a name (`query ($id: ID!)` has no name, not "id").
const tokens = /[{}()$@]|[_A-Za-z][_0-9A-Za-z]*/g;
const isName = (word: string | undefined): word is string => word !== undefined && /^[_A-Za-z]/.test(word);

/**
 * The type and name of the first operation in a GraphQL document, read from its text
 * without a GraphQL parser (the SDK does not ship graphql-js).
 */
export function operationInfo(source: string): OperationInfo {
  const words = source.replace(ignored, ' ').match(tokens) ?? [];
  let depth = 0;
  let inFragment = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === '{') {
      if (depth === 0 && !inFragment) return { type: 'query', name: undefined };
      depth++;
    } else if (word === '}') {
      depth--;
      if (depth === 0) inFragment = false;
    } else if (depth === 0 && !inFragment) {
      if (word === 'fragment') inFragment = true;
      else if (word === 'query' || word === 'mutation' || word === 'subscription') {
        const next = words[i + 1];
        return { type: word, name: isName(next) ? next : undefined };
      }
    }
  }
  return { type: undefined, name: undefined };
}
