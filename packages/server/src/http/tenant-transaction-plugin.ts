import { getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { OpenTransaction, Tx } from '../db/database.js';
import type { Context } from '../graphql/context.js';

/**
 * Runs each query or mutation in one transaction scoped to the caller's tenant (row-level
 * security), exposed to resolvers as ctx.db. A mutation whose result carries any error is rolled
 * back whole and answers data: null: bad input changes nothing.
 *
 * The transaction opens at the operation's first read or write, not before: an operation answered
 * from caches (or refused before it reads) never takes a connection, and one that does holds it
 * only from its first statement on. That matters most on embedded PGlite, whose one connection every
 * request and run shares.
 */
export function useTenantTransaction(): Plugin<Context> {
  return {
    onSubscribe({ args, extendContext }) {
      // Subscriptions live long: no transaction is held open; each read is scoped on its own.
      const ctx = args.contextValue as Context;
      if (ctx.principal.kind === 'admin') return;
      const { tenantId } = ctx.principal;
      extendContext({
        db: ctx.database.tenantClient(tenantId),
        script: (statements) => ctx.database.script({ 'app.tenant_id': tenantId }, statements),
        commitScript: async (statements) => ({
          rows: await ctx.database.script({ 'app.tenant_id': tenantId }, statements),
          committed: true,
        }),
      } as Partial<Context>);
    },
    onExecute({ args, extendContext }) {
      const ctx = args.contextValue as Context;
      if (ctx.principal.kind === 'admin') return;
      const { tenantId } = ctx.principal;
      const op = getOperationAST(args.document, args.operationName ?? undefined);
      const mutation = op?.operation === 'mutation';
      // An operation of one field (no fragments) may commit that field's one atomic write, or its
      // one read, on its own.
      const singleField =
        op !== undefined &&
        op !== null &&
        op.operation !== 'subscription' &&
        op.selectionSet.selections.length === 1 &&
        op.selectionSet.selections[0]!.kind === Kind.FIELD;
      let open: Promise<OpenTransaction> | undefined;
      const begin = () => {
        open ??= ctx.database.beginTenant(tenantId);
        return open;
      };
      const afterCommit: (() => void | Promise<void>)[] = [];
      extendContext({
        db: lazyTx(() => begin().then((o) => o.tx)),
        script: (statements) => begin().then((o) => o.script(statements)),
        commitScript: async (statements) =>
          !singleField || open
            ? { rows: await (await begin()).script(statements), committed: false }
            : { rows: await ctx.database.script({ 'app.tenant_id': tenantId }, statements), committed: true },
        afterCommit: (fn) => void afterCommit.push(fn),
      } as Partial<Context>);
      return {
        async onExecuteDone({ result, setResult }) {
          const errors = 'errors' in result ? result.errors : undefined;
          if (mutation && errors?.length) {
            await (await open)?.rollback();
            // Nothing was written, so no field may report something as written (an earlier
            // mutation's new id, say): the whole result is the errors.
            if ('data' in result && result.data) setResult({ ...result, data: null });
          } else {
            await (await open)?.commit();
            // Side effects that must only happen once the data is visible (enqueueing a run, say).
            for (const fn of afterCommit) await fn();
          }
        },
      };
    },
  };
}

/**
 * A transaction client that opens the transaction on its first query: `tx.run.findMany(args)`
 * begins (once), then runs on the real client. Every model method and `$` method goes through.
 */
function lazyTx(tx: () => Promise<Tx>): Tx {
  const cache = new Map<string | symbol, unknown>();
  return new Proxy({} as Tx, {
    // Pothos looks a model's delegate up with `in`.
    has: (_target, prop) => typeof prop === 'string',
    get(_target, prop) {
      if (typeof prop === 'symbol' || prop === 'then') return undefined;
      let value = cache.get(prop);
      if (value === undefined) {
        value = prop.startsWith('$')
          ? (...args: unknown[]) =>
              tx().then((t) => (t as unknown as Record<string, (...a: unknown[]) => unknown>)[prop]!(...args))
          : new Proxy(
              {},
              {
                get(_m, method) {
                  if (typeof method === 'symbol' || method === 'then') return undefined;
                  return (...args: unknown[]) =>
                    tx().then((t) =>
                      (t as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>)[prop]![
                        method
                      ]!(...args),
                    );
                },
              },
            );
        cache.set(prop, value);
      }
      return value;
    },
  });
}
