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
 */
export function deferBegin<C extends typeof pg.Client>(Base: C): C {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads
  const Deferred = class extends (Base as any) implements DeferredBeginClient {
    #pending: string | null = null;
    #pendingStatements = 0;

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

    async #script(script: string): Promise<ScriptRows[]> {
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
