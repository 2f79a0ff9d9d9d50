import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';

export type ScriptRows = Record<string, unknown>[];

/**
 * A transaction being opened through Prisma (`prisma.$transaction` inside `openScope`): the
 * settings it starts with, and, once it has a connection, a way to send a script inside it.
 *
 * On a pg connection the BEGIN Prisma sends is held back and goes out with the settings in front of
 * the transaction's first statement, in one message: opening a tenant transaction costs no round
 * trip of its own, a script sent first carries BEGIN and the settings along, and a transaction that
 * never sent a statement ends without one (its COMMIT or ROLLBACK is answered locally).
 */
export interface TransactionScope {
  /** `SELECT set_config(...);` statements run right after BEGIN. */
  readonly prelude: string;
  /** How many statements the prelude holds (their results are dropped). */
  readonly preludeStatements: number;
  /** Taken by the first BEGIN seen in the scope: a transaction nested in it opens normally. */
  claimed: boolean;
  /** Runs a script (several statements, one message) inside the transaction; set once it began. */
  runScript?: (script: string) => Promise<ScriptRows[]>;
}

const scopes = new AsyncLocalStorage<TransactionScope>();

export function openScope<T>(scope: TransactionScope, fn: () => Promise<T>): Promise<T> {
  return scopes.run(scope, fn);
}

/** The scope whose transaction is starting right now, if any (claimed by the caller). */
export function claimScope(): TransactionScope | undefined {
  const scope = scopes.getStore();
  if (!scope || scope.claimed) return undefined;
  scope.claimed = true;
  return scope;
}

type QueryResult = { rows: ScriptRows; command: string; rowCount: number; fields: unknown[] };

const localResult = (command: string): QueryResult => ({ rows: [], command, rowCount: 0, fields: [] });

const textOf = (config: unknown): string | undefined =>
  typeof config === 'string'
    ? config
    : typeof config === 'object' && config !== null && 'text' in config
      ? String((config as { text: unknown }).text)
      : undefined;

export interface DeferredBeginClient {
  /** Forgets a held-back BEGIN (the connection goes back to the pool without having started it). */
  dropPendingBegin(): void;
}

/**
 * A pg Client class that holds back a scoped transaction's BEGIN (see TransactionScope). Only the
 * promise form of `query` is changed; everything else goes to pg as it is.
 *
 * It also takes its queries one at a time. Prisma sends independent queries of one transaction
 * together (a nested create's rows, say), and pg queues a query that arrives while another runs,
 * which pg 8 answers with a DeprecationWarning on the server's console (the queue goes in pg 9).
 * Here the next query waits for the one before it to settle, in the order they were called: what
 * pg's queue did, without it.
 */
export function deferBegin<C extends typeof pg.Client>(Base: C): C {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads
  const Deferred = class extends (Base as any) implements DeferredBeginClient {
    #pending: string | null = null;
    #pendingStatements = 0;

    /** A query is in flight; the ones called meanwhile wait here, first come first served. */
    #busy = false;
    readonly #waiting: (() => void)[] = [];

    dropPendingBegin() {
      this.#pending = null;
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads
    query(config: any, values?: any, callback?: any): any {
      if (
        typeof values === 'function' ||
        typeof callback === 'function' ||
        typeof config?.submit === 'function'
      ) {
        return super.query(config, values, callback);
      }
      return this.#oneAtATime(() => this.#query(config, values));
    }

    #oneAtATime<T>(send: () => Promise<T>): Promise<T> {
      const run = () => {
        this.#busy = true;
        let p: Promise<T>;
        try {
          p = send();
        } catch (err) {
          p = Promise.reject(err);
        }
        const next = () => {
          const waiter = this.#waiting.shift();
          if (waiter) waiter();
          else this.#busy = false;
        };
        p.then(next, next);
        return p;
      };
      if (!this.#busy) return run();
      return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(run);
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads
    #query(config: any, values?: any): Promise<any> {
      const text = textOf(config);
      if (text === 'BEGIN') {
        const scope = claimScope();
        if (scope) {
          this.#pending = `BEGIN;\n${scope.prelude}`;
          this.#pendingStatements = 1 + scope.preludeStatements;
          scope.runScript = (script) => this.#script(script);
          return Promise.resolve(localResult('BEGIN'));
        }
      }
      const pending = this.#pending;
      if (pending !== null) {
        this.#pending = null;
        // Nothing was sent: there is nothing to end.
        if (text === 'COMMIT' || text === 'ROLLBACK') return Promise.resolve(localResult(text));
        return super.query(pending).then(() => super.query(config, values));
      }
      return super.query(config, values);
    }

    #script(script: string): Promise<ScriptRows[]> {
      return this.#oneAtATime(() => this.#sendScript(script));
    }

    async #sendScript(script: string): Promise<ScriptRows[]> {
      let text = script;
      let skip = 0;
      if (this.#pending !== null) {
        text = `${this.#pending}\n${script}`;
        skip = this.#pendingStatements;
        this.#pending = null;
      }
      const res = (await super.query(text)) as QueryResult | QueryResult[];
      return (Array.isArray(res) ? res : [res]).slice(skip).map((r) => r.rows);
    }
  };
  return Deferred as unknown as C;
}
