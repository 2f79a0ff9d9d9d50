import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../graphql/context.js';

/**
 * Runs each query or mutation in one transaction scoped to the caller's tenant (row-level
 * security), exposed to resolvers as ctx.db. A mutation whose result carries any error is rolled
 * back whole and answers data: null: bad input changes nothing.
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
      } as Partial<Context>);
    },
    async onExecute({ args, extendContext }) {
      const ctx = args.contextValue as Context;
      if (ctx.principal.kind === 'admin') return;
      const op = getOperationAST(args.document, args.operationName ?? undefined);
      const open = await ctx.database.beginTenant(ctx.principal.tenantId);
      const afterCommit: (() => void | Promise<void>)[] = [];
      extendContext({
        db: open.tx,
        script: (statements) => open.script(statements),
        afterCommit: (fn) => void afterCommit.push(fn),
      } as Partial<Context>);
      return {
        async onExecuteDone({ result, setResult }) {
          const errors = 'errors' in result ? result.errors : undefined;
          if (op?.operation === 'mutation' && errors?.length) {
            await open.rollback();
            // Nothing was written, so no field may report something as written (an earlier
            // mutation's new id, say): the whole result is the errors.
            if ('data' in result && result.data) setResult({ ...result, data: null });
          } else {
            await open.commit();
            // Side effects that must only happen once the data is visible (enqueueing a run, say).
            for (const fn of afterCommit) await fn();
          }
        },
      };
    },
  };
}
