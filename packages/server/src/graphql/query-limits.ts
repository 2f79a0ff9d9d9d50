import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLNamedType,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

/**
 * Limits on a query's shape, checked before it runs: every credential (a read-only key, a
 * browser's session token) may send queries, and relations that point back at each other (a crew's
 * agents, each agent's crew) let a small query ask for millions of objects.
 */
export const QUERY_LIMITS = {
  /** Fields nested in fields (introspection's own not counted). */
  maxDepth: 12,
  /** Lists of objects nested in lists of objects (a connection's edges count as one). */
  maxNestedLists: 3,
  /** Aliased fields in an operation, fragments counted at each use. */
  maxAliases: 50,
};

/** What a selection set adds below where it is used: its deepest field, most nested lists, aliases. */
interface Measure {
  depth: number;
  lists: number;
  aliases: number;
}

/** The validation rule enforcing QUERY_LIMITS. */
export function queryLimitsRule(context: ValidationContext): ASTVisitor {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of context.getDocument().definitions)
    if (d.kind === 'FragmentDefinition') fragments.set(d.name.value, d);
  const schema = context.getSchema();
  // Each fragment is measured once, however often it is spread (a document spreading fragments
  // two by two, twenty deep, would otherwise be walked a million times over).
  const measured = new Map<string, Measure>();
  const inProgress = new Set<string>();

  const fragmentMeasure = (name: string): Measure => {
    const known = measured.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    // Unknown, or a cycle: NoFragmentCycles and KnownFragmentNames report those.
    if (!fragment || inProgress.has(name)) return { depth: 0, lists: 0, aliases: 0 };
    inProgress.add(name);
    const m = measureSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
    inProgress.delete(name);
    measured.set(name, m);
    return m;
  };

  const measureSet = (set: SelectionSetNode, parent: GraphQLNamedType | null | undefined): Measure => {
    const total: Measure = { depth: 0, lists: 0, aliases: 0 };
    const add = (m: Measure) => {
      total.depth = Math.max(total.depth, m.depth);
      total.lists = Math.max(total.lists, m.lists);
      total.aliases += m.aliases;
    };
    for (const selection of set.selections) {
      if (selection.kind === 'FragmentSpread') add(fragmentMeasure(selection.name.value));
      else if (selection.kind === 'InlineFragment')
        add(
          measureSet(
            selection.selectionSet,
            selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent,
          ),
        );
      else {
        const name = selection.name.value;
        if (name === '__schema' || name === '__type') continue;
        const field =
          parent && 'getFields' in parent
            ? (parent.getFields() as Record<string, { type: Parameters<typeof getNullableType>[0] }>)[name]
            : undefined;
        const type = field?.type;
        const named = type ? getNamedType(type) : undefined;
        // Lists of scalars end the query there: only lists of objects multiply what follows.
        const list = type && isListType(getNullableType(type)) && named && isCompositeType(named) ? 1 : 0;
        const below = selection.selectionSet
          ? measureSet(selection.selectionSet, named)
          : { depth: 0, lists: 0, aliases: 0 };
        add({
          depth: below.depth + 1,
          lists: below.lists + list,
          aliases: below.aliases + (selection.alias ? 1 : 0),
        });
      }
    }
    return total;
  };

  return {
    OperationDefinition(operation) {
      const root =
        operation.operation === 'query'
          ? schema.getQueryType()
          : operation.operation === 'mutation'
            ? schema.getMutationType()
            : schema.getSubscriptionType();
      const w = measureSet(operation.selectionSet, root);
      const name = operation.name ? ` ${operation.name.value}` : '';
      const refuse = (message: string) =>
        context.reportError(
          new GraphQLError(message, { nodes: [operation], extensions: { code: 'BAD_INPUT' } }),
        );
      if (w.depth > QUERY_LIMITS.maxDepth)
        refuse(
          `Operation${name} nests fields ${w.depth} deep; at most ${QUERY_LIMITS.maxDepth} are allowed.`,
        );
      if (w.lists > QUERY_LIMITS.maxNestedLists)
        refuse(
          `Operation${name} nests ${w.lists} lists in each other (each multiplies the answer); at most ${QUERY_LIMITS.maxNestedLists} are allowed. Ask for the inner lists in queries of their own.`,
        );
      if (w.aliases > QUERY_LIMITS.maxAliases)
        refuse(
          `Operation${name} has ${w.aliases} aliased fields; at most ${QUERY_LIMITS.maxAliases} are allowed.`,
        );
    },
  };
}
