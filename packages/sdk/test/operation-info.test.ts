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
    // Unnamed operations with variables or directives: no name (graphql-js refuses an operationName
    // the document does not define, so a wrong one failed every such request).
    ['query ($id: ID!) { run(id: $id) { status } }', 'query', undefined],
    ['mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }', 'mutation', undefined],
    ['query @cached { viewer { kind } }', 'query', undefined],
    ['subscription ($runId: ID!) { runEvents(runId: $runId) { seq } }', 'subscription', undefined],
    ['query Named($id: ID!) @cached { run(id: $id) { status } }', 'query', 'Named'],
  ])('%s', (source, type, name) => {
    expect(operationInfo(source)).toEqual({ type, name });
  });
});
