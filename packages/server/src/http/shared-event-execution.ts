import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  GraphQLError,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  visit,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Subscription fields whose events do not depend on the subscriber: their event types' fields take
 * no arguments and read nothing from the context, so one execution of an event for one document
 * serves every subscriber that selected it the same way.
 */
const SHARED_FIELDS = new Set(['runEvents', 'threadEvents']);

/**
 * An event's results, one per document that selected it, kept on the event object itself (under a
 * symbol: GraphQL resolvers read named fields only) so that they go when the event goes. Kept in a
 * WeakMap instead, they would outlive it: a young-generation collection treats the values of a
 * long-lived WeakMap as alive, so every event's results were copied at the next collection and
 * moved to the old generation at the one after, doubling young collections' pauses while events
 * stream (see bench/event-latency.bench.ts).
 */
const RESULTS = Symbol('troupe.sharedResults');

interface SharedResult {
  /** The operation executed (a document may hold several). */
  operation: OperationDefinitionNode;
  /** The values of the variables its directives read (@include(if: $x)), as JSON; '' when none. */
  shape: string;
  result: ExecutionResult | Promise<ExecutionResult>;
  next: SharedResult | undefined;
}

/**
 * The variables that directives in the document read (`@include(if: $withData)`): they decide an
 * event's result shape, so subscribers share a result only when these values agree too.
 */
function directiveVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Directive(node) {
      for (const arg of node.arguments ?? [])
        visit(arg.value, {
          Variable(v) {
            names.add(v.name.value);
          },
        });
    },
  });
  return [...names];
}

const shapes = new WeakMap<DocumentNode, string[]>();

function shapeOf(args: ExecutionArgs): string {
  let vars = shapes.get(args.document);
  if (!vars) {
    vars = directiveVariables(args.document);
    shapes.set(args.document, vars);
  }
  if (vars.length === 0) return '';
  const values = args.variableValues ?? {};
  // Unset (the variable's default applies) and null are told apart.
  return JSON.stringify(vars.map((v) => (v in values ? [values[v]] : [])));
}

type WithResults = { [RESULTS]?: SharedResult };

type MaskResult = (result: ExecutionResult) => ExecutionResult;

function executeMasked(args: ExecutionArgs, payload: unknown, mask: MaskResult) {
  const result = execute({ ...args, rootValue: payload }) as ExecutionResult | Promise<ExecutionResult>;
  return result instanceof Promise ? result.then(mask) : mask(result);
}

function sharedExecute(
  args: ExecutionArgs,
  operation: OperationDefinitionNode,
  shape: string,
  payload: unknown,
  mask: MaskResult,
): ExecutionResult | Promise<ExecutionResult> {
  if (typeof payload !== 'object' || payload === null) return executeMasked(args, payload, mask);
  const event = payload as WithResults;
  for (let r = event[RESULTS]; r; r = r.next)
    if (r.operation === operation && r.shape === shape) return r.result;
  const result = executeMasked(args, payload, mask);
  event[RESULTS] = { operation, shape, result, next: event[RESULTS] };
  return result;
}

/** Streams of shared results (see useSharedEventExecution), for transports that send them directly. */
const sharedStreams = new WeakSet<object>();

/** Whether a subscription's result is a stream of shared results: each event's result object is the same for all its subscribers. */
export function isSharedResultStream(result: unknown): result is AsyncIterableIterator<ExecutionResult> {
  return typeof result === 'object' && result !== null && sharedStreams.has(result);
}

/** A result's JSON, kept on the result (as an event's results are kept on it, see RESULTS). */
const JSON_TEXT = Symbol('troupe.json');

/** A shared result as JSON, serialised once for all its subscribers (errors through their toJSON). */
export function sharedResultJson(result: ExecutionResult): string {
  const r = result as ExecutionResult & { [JSON_TEXT]?: string };
  // JSON.stringify skips symbol-keyed properties: the text does not contain itself.
  let json = r[JSON_TEXT];
  if (json === undefined) {
    json = JSON.stringify(result);
    r[JSON_TEXT] = json;
  }
  return json;
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
      const value = fn(r.value);
      return { done: false, value: value instanceof Promise ? await value : value };
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

const isAbortError = (error: unknown) => error instanceof Error && error.name === 'AbortError';

/**
 * Fan-out: a run's live event goes to every subscriber of the run; executing the subscription's
 * selection once per event and document (instead of once per subscriber) makes delivering it to
 * N subscribers cost one execution and N sends.
 *
 * The plugin must come last among the server's plugins: it subscribes itself and ends envelop's
 * onSubscribe chain there, so that yoga's error masking (which runs after every plugin) does not
 * map each subscriber's every result, a promise chain per event per subscriber. `maskError` masks
 * the results here instead, once per event: what a subscriber receives is unchanged.
 */
export function useSharedEventExecution(maskError: (error: unknown) => Error): Plugin {
  // Sent errors must be GraphQL errors (graphql-ws serialises them with toJSON); yoga's masks are.
  const masked = (error: unknown) => {
    const e = maskError(error);
    return e instanceof GraphQLError ? e : new GraphQLError(e.message);
  };
  const mask: MaskResult = (result) =>
    result.errors?.length ? { ...result, errors: result.errors.map(masked) } : result;
  return {
    async onSubscribe({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      const [field, ...more] = operation?.selectionSet.selections ?? [];
      if (operation?.operation !== 'subscription' || more.length > 0 || field?.kind !== Kind.FIELD) return;
      if (!SHARED_FIELDS.has(field.name.value)) return;
      let stream: Awaited<ReturnType<typeof createSourceEventStream>>;
      try {
        stream = await createSourceEventStream(args);
      } catch (error) {
        if (isAbortError(error)) throw error; // as yoga: an aborted request is not answered
        setResultAndStopExecution({ errors: [masked(error)] });
        return;
      }
      if (!(Symbol.asyncIterator in stream)) setResultAndStopExecution(mask(stream));
      else {
        const events = stream[Symbol.asyncIterator]();
        const shape = shapeOf(args);
        const results = mapEvents(events, (payload) => sharedExecute(args, operation, shape, payload, mask));
        sharedStreams.add(results);
        setResultAndStopExecution(results);
      }
    },
  };
}
