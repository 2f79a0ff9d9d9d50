import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  getNamedType,
  getNullableType,
  isListType,
  type OperationDefinitionNode,
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
  /** Lists nested in lists (a connection's edges count as one): each can multiply the answer. */
  maxNestedLists: 3,
  /** Aliased fields in an operation (each can ask for the same expensive field again). */
  maxAliases: 50,
};

interface Walk {
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

  const measure = (operation: OperationDefinitionNode): Walk => {
    const worst: Walk = { depth: 0, lists: 0, aliases: 0 };
    const root =
      operation.operation === 'query'
        ? schema.getQueryType()
        : operation.operation === 'mutation'
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    const visit = (
      set: SelectionSetNode,
      parent: ReturnType<typeof getNamedType> | null | undefined,
      depth: number,
      lists: number,
      seen: ReadonlySet<string>,
    ) => {
      for (const selection of set.selections) {
        if (selection.kind === 'FragmentSpread') {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          // (Cycles are NoFragmentCycles's to report.)
          if (fragment && !seen.has(name))
            visit(
              fragment.selectionSet,
              schema.getType(fragment.typeCondition.name.value),
              depth,
              lists,
              new Set([...seen, name]),
            );
          continue;
        }
        if (selection.kind === 'InlineFragment') {
          const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          visit(selection.selectionSet, on, depth, lists, seen);
          continue;
        }
        const name = selection.name.value;
        if (name === '__schema' || name === '__type') continue;
        if (selection.alias) worst.aliases++;
        const field =
          parent && 'getFields' in parent
            ? (parent.getFields() as Record<string, { type: unknown }>)[name]
            : undefined;
        const type = field?.type as Parameters<typeof getNullableType>[0] | undefined;
        const isList = type ? isListType(getNullableType(type)) : false;
        const d = depth + 1;
        const l = lists + (isList ? 1 : 0);
        worst.depth = Math.max(worst.depth, d);
        worst.lists = Math.max(worst.lists, l);
        if (selection.selectionSet)
          visit(selection.selectionSet, type ? getNamedType(type) : undefined, d, l, seen);
      }
    };
    visit(operation.selectionSet, root, 0, 0, new Set());
    return worst;
  };

  return {
    OperationDefinition(operation) {
      const w = measure(operation);
      const name = operation.name ? ` ${operation.name.value}` : '';
      if (w.depth > QUERY_LIMITS.maxDepth)
        context.reportError(
          new GraphQLError(
            `Operation${name} nests fields ${w.depth} deep; at most ${QUERY_LIMITS.maxDepth} are allowed.`,
            { nodes: [operation], extensions: { code: 'BAD_INPUT' } },
          ),
        );
      if (w.lists > QUERY_LIMITS.maxNestedLists)
        context.reportError(
          new GraphQLError(
            `Operation${name} nests ${w.lists} lists in each other (each multiplies the answer); at most ${QUERY_LIMITS.maxNestedLists} are allowed. Ask for the inner lists in queries of their own.`,
            { nodes: [operation], extensions: { code: 'BAD_INPUT' } },
          ),
        );
      if (w.aliases > QUERY_LIMITS.maxAliases)
        context.reportError(
          new GraphQLError(
            `Operation${name} has ${w.aliases} aliased fields; at most ${QUERY_LIMITS.maxAliases} are allowed.`,
            { nodes: [operation], extensions: { code: 'BAD_INPUT' } },
          ),
        );
    },
  };
}
