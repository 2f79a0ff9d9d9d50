import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  getOperationAST,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Subscription fields whose events do not depend on the subscriber: their event types' fields take
 * no arguments and read nothing from the context, so one execution of an event for one document
 * serves every subscriber that selected it the same way.
 */
const SHARED_FIELDS = new Set(['runEvents', 'threadEvents']);

/** Results per event object (the live event, decoded once per channel) and document. */
const results = new WeakMap<object, Map<DocumentNode, ExecutionResult | Promise<ExecutionResult>>>();

function sharedExecute(args: ExecutionArgs, payload: unknown): ExecutionResult | Promise<ExecutionResult> {
  if (typeof payload !== 'object' || payload === null) {
    return execute({ ...args, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
  }
  let byDocument = results.get(payload);
  if (!byDocument) {
    byDocument = new Map();
    results.set(payload, byDocument);
  }
  let result = byDocument.get(args.document);
  if (!result) {
    result = execute({ ...args, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
    byDocument.set(args.document, result);
  }
  return result;
}

/** Maps a source stream; ending the result ends the source at once (a client unsubscribing). */
function mapEvents<T, U>(
  source: AsyncIterator<T>,
  fn: (value: T) => U | Promise<U>,
): AsyncGenerator<U, undefined, undefined> {
  const done = { done: true as const, value: undefined };
  const mapped: AsyncGenerator<U, undefined, undefined> = {
    async next() {
      const r = await source.next();
      if (r.done) return done;
      return { done: false, value: await fn(r.value) };
    },
    async return() {
      await source.return?.();
      return done;
    },
    async throw(error: unknown) {
      if (source.throw) {
        const r = await source.throw(error);
        if (!r.done) return { done: false, value: await fn(r.value) };
        return done;
      }
      throw error;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped;
}

/**
 * Fan-out: a run's live event goes to every subscriber of the run; executing the subscription's
 * selection once per event and document (instead of once per subscriber) makes delivering it to
 * N subscribers cost one execution and N sends.
 */
export function useSharedEventExecution(): Plugin {
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      const [field, ...more] = operation?.selectionSet.selections ?? [];
      if (operation?.operation !== 'subscription' || more.length > 0 || field?.kind !== 'Field') return;
      if (!SHARED_FIELDS.has(field.name.value)) return;
      setSubscribeFn(async (subscribeArgs) => {
        const stream = await createSourceEventStream(subscribeArgs);
        if (!(Symbol.asyncIterator in stream)) return stream;
        return mapEvents(stream[Symbol.asyncIterator](), (payload) => sharedExecute(subscribeArgs, payload));
      });
    },
  };
}
