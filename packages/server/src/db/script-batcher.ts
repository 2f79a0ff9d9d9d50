import { type SqlText, setConfig } from './sql-text.js';
import type { ScriptRows } from './transaction-scope.js';

/**
 * Runs statements as one transaction (BEGIN, the statements, COMMIT: one message) and returns each
 * statement's rows.
 */
export type ScriptRunner = (statements: readonly SqlText[]) => Promise<ScriptRows[]>;

interface Pending {
  settings: Readonly<Record<string, string>>;
  statements: readonly SqlText[];
  resolve(rows: ScriptRows[]): void;
  reject(err: unknown): void;
}

export interface ScriptBatcherOptions {
  /** Transactions in flight at once; scripts that arrive meanwhile wait and go out together. */
  maxInFlight: number;
  /** Most scripts in one transaction. */
  maxScripts?: number;
  /** Called with each message's text (statement counting in tests, debugging). */
  onQuery?: (sql: string) => void;
}

/**
 * Group commit for Database.script. A script that finds a transaction slot free goes out at once,
 * alone. Scripts that arrive while every slot is busy queue, and the next free slot sends all of
 * them in one transaction: one message, one commit. Under load (the one connection of embedded
 * PGlite, say) that turns N round trips and N commits into one.
 *
 * Each script in a shared transaction runs with exactly its own settings: every setting any script
 * of the message uses is set (transaction-locally) before each script's statements, to the script's
 * value or to '' (which matches no row-level security policy), so nothing carries over from the
 * script before it. If the shared transaction fails, nothing of it was committed: each of its
 * scripts then runs again on its own, so one bad script fails alone.
 */
export class ScriptBatcher {
  readonly #run: ScriptRunner;
  readonly #maxInFlight: number;
  readonly #maxScripts: number;
  readonly #onQuery?: (sql: string) => void;
  #queue: Pending[] = [];
  #inFlight = 0;

  constructor(run: ScriptRunner, opts: ScriptBatcherOptions) {
    this.#run = run;
    this.#maxInFlight = Math.max(1, opts.maxInFlight);
    this.#maxScripts = Math.max(1, opts.maxScripts ?? 64);
    this.#onQuery = opts.onQuery;
  }

  /** Runs the statements in a transaction with the given settings; resolves with each one's rows. */
  script(settings: Readonly<Record<string, string>>, statements: readonly SqlText[]): Promise<ScriptRows[]> {
    if (statements.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ settings, statements, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxScripts);
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #send(batch: Pending[]): Promise<void> {
    try {
      const results = await this.#execute(batch);
      for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // Nothing of the shared transaction stayed: each script again, on its own.
      for (const p of batch) {
        try {
          p.resolve((await this.#execute([p]))[0]!);
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  /** One transaction for the scripts; each one's statement rows. */
  async #execute(batch: Pending[]): Promise<ScriptRows[][]> {
    const names = [...new Set(batch.flatMap((p) => Object.keys(p.settings)))];
    const statements: SqlText[] = [];
    const counts: { skip: number; take: number }[] = [];
    for (const p of batch) {
      for (const n of names) statements.push(setConfig(n, p.settings[n] ?? ''));
      statements.push(...p.statements);
      counts.push({ skip: names.length, take: p.statements.length });
    }
    this.#onQuery?.(statements.map((st) => `${st.text};`).join('\n'));
    const rows = await this.#run(statements);
    // Results are handed out by position: a statement text that held two statements (or none)
    // would shift every later script's rows onto its neighbour's. Refuse instead.
    const expected = counts.reduce((n, c) => n + c.skip + c.take, 0);
    if (rows.length !== expected)
      throw new Error(
        `a script returned ${rows.length} results for ${expected} statements (one statement per SqlText)`,
      );
    let at = 0;
    return counts.map(({ skip, take }) => {
      const own = rows.slice(at + skip, at + skip + take);
      at += skip + take;
      return own;
    });
  }
}
