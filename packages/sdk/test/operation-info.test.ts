import { describe, expect, it } from 'vitest';
import { operationInfo } from '../src/transport/operation-info';

describe('operationInfo', () => {
  it.each([
    ['query Crews { crews { edges { cursor } } }', 'query', 'Crews'],
    ['mutation DeleteCrew($id: ID!) { deleteCrew(id: $id) { deletedId } }', 'mutation', 'DeleteCrew'],
    ['subscription { runEvents { type } }', 'subscription', undefined],
    ['{ viewer { kind } }', 'query', undefined],
    ['  # mutation in a comment\n query Q { viewer { kind } }', 'query', 'Q'],
    [
      'fragment F on Crew { id mutation: name }\nmutation M { deleteCrew(id: "x") { ...F } }',
      'mutation',
      'M',
    ],
    ['query Q($s: String = "mutation {") { crews { edges { cursor } } }', 'query', 'Q'],
    ['fragment F on Crew { id }', undefined, undefined],
  ])('%s', (source, type, name) => {
    expect(operationInfo(source)).toEqual({ type, name });
  });
});
