import * as PothosCore from '@pothos/core';
import * as PrismaPluginModule from '@pothos/plugin-prisma';
import * as RelayPluginModule from '@pothos/plugin-relay';
import { encodeGlobalID } from '@pothos/plugin-relay';
import * as ScopeAuthPluginModule from '@pothos/plugin-scope-auth';
import { GraphQLError, isObjectType, Kind, type ValueNode } from 'graphql';
import { allows } from '../auth/scopes.js';
import { badInput, notFound, TroupeServerError } from '../errors.js';
import type PrismaTypes from '../generated/pothos-types.js';
import { getDatamodel } from '../generated/pothos-types.js';
import type { Context } from './context.js';

/**
 * The default export of a dual ESM/CJS package, from either of our builds: in the CJS build, Node's
 * interop hands us the whole exports object as `default`.
 */
function defaultExport<T>(ns: { default: T }): T {
  const d = ns.default as unknown;
  return (d !== null && typeof d === 'object' && 'default' in d ? (d as { default: T }).default : d) as T;
}
const SchemaBuilder = defaultExport(PothosCore);
const PrismaPlugin = defaultExport(PrismaPluginModule);
const RelayPlugin = defaultExport(RelayPluginModule);
const ScopeAuthPlugin = defaultExport(ScopeAuthPluginModule);

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: JsonValue; Output: unknown };
  };
  AuthScopes: {
    read: boolean;
    write: boolean;
    admin: boolean;
    platformAdmin: boolean;
    apiKey: boolean;
  };
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => {
      const p = ctx.principal;
      const scopes = p.kind === 'admin' ? [] : p.scopes;
      return {
        read: allows(scopes, 'read'),
        write: allows(scopes, 'write'),
        admin: allows(scopes, 'admin'),
        platformAdmin: p.kind === 'admin',
        apiKey: p.kind === 'apiKey',
      };
    },
    unauthorizedError: (_parent, ctx, info) => {
      const who =
        ctx.principal.kind === 'admin'
          ? 'the admin key (it can only create tenants)'
          : `${ctx.principal.kind === 'session' ? 'this session token' : 'this API key'} (scopes: ${ctx.principal.scopes.join(', ') || 'none'})`;
      return new TroupeServerError(
        'FORBIDDEN',
        `Not allowed: ${info.parentType.name}.${info.fieldName} is not permitted for ${who}.`,
      );
    },
  },
  prisma: {
    client: (ctx) => ctx.db as never,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: {
      description:
        'Any object by its global id; an id that names nothing this caller may see answers NOT_FOUND.',
      // Nodes load with findUnique (prismaNode `nullable`), so another tenant's id or a deleted
      // object is a clear NOT_FOUND here (and a null item in `nodes`), never an internal error.
      resolve: async (_root, args, _ctx, info, resolveNode) => {
        const type = info.schema.getType(args.id.typename);
        if (!isObjectType(type) || !type.getInterfaces().some((i) => i.name === 'Node')) {
          throw badInput('id', `"${args.id.typename}" is not a type of object with a global id`);
        }
        const node = await resolveNode(args.id);
        if (node == null) throw notFound(args.id.typename, encodeGlobalID(args.id.typename, args.id.id));
        return node;
      },
    },
    nodesQueryOptions: {
      // Each id is a lookup of its own.
      resolve: (_root, args, _ctx, _info, resolveNodes) => {
        if (args.ids.length > MAX_NODES) throw badInput('ids', `at most ${MAX_NODES} ids`);
        return resolveNodes(args.ids);
      },
    },
  },
});

/** Ids that one nodes(ids:) may look up. */
const MAX_NODES = 100;

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date-time in UTC.',
  serialize: (d) => (d instanceof Date ? d.toISOString() : new Date(String(d)).toISOString()),
  parseValue: (v) => {
    const d = new Date(String(v));
    if (Number.isNaN(d.getTime())) throw new GraphQLError('DateTime: not an ISO-8601 date-time');
    return d;
  },
});

function literal(node: ValueNode): JsonValue {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(literal);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
    default:
      throw new GraphQLError('JSON: variables are not allowed inside JSON literals');
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (v) => v,
  parseValue: (v) => v as JsonValue,
  parseLiteral: literal,
});
