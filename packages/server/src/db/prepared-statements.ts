import { createHash } from 'node:crypto';
import type { SqlText } from './sql-text.js';

/** Runs one message on the session (outside any transaction); rejects with PostgreSQL's error. */
export type SessionQuery = (text: string) => Promise<unknown>;

/** A statement kind is prepared once it has been sent this many times on the session. */
const PREPARE_AFTER = 3;
/** Most statements one session prepares (each keeps a plan in the backend's memory). */
const MAX_PREPARED = 200;
/** Statement kinds counted at once; the counts start over when there are more (one-off shapes). */
const MAX_COUNTED = 2_000;
/** Larger templates, or more parameters, are always sent as text. */
const MAX_TEMPLATE = 16_000;
const MAX_ARGS = 1_000;

/**
 * The statements one database session has prepared, so that scripts can EXECUTE them instead of
 * sending their text: a statement sent as text is parsed, analysed, rewritten (row-level security)
 * and planned every time, which on PGlite was ~70% of a hot statement's time (claiming a run:
 * 0.73 ms as text, 0.20 ms prepared).
 *
 * A statement kind (its template: the text with $1, $2 for its values) is prepared on the session
 * once it has been sent PREPARE_AFTER times, under a name derived from the template, so that
 * connections sharing one session (embedded PGlite's) agree on names: one that finds the name
 * taken (42P05) knows it is the same statement. PREPARE is not transactional, so it is sent on its
 * own, before the script's transaction. A template PostgreSQL cannot prepare (a parameter whose type
 * nothing decides, say) is sent as text from then on, as is everything past MAX_PREPARED.
 */
export class PreparedStatements {
  readonly #names = new Map<string, string>();
  readonly #uses = new Map<string, number>();
  readonly #refused = new Set<string>();
  readonly #onRefused?: (template: string, err: unknown) => void;

  constructor(opts: { onRefused?: (template: string, err: unknown) => void } = {}) {
    this.#onRefused = opts.onRefused;
  }

  /**
   * Prepares the statements' kinds that are due (sent often enough, not prepared, not refused),
   * each in its own message through `query`. Call it before the transaction that runs them.
   */
  async prepareDue(statements: readonly SqlText[], query: SessionQuery): Promise<void> {
    for (const st of statements) {
      if (this.#names.size >= MAX_PREPARED) return;
      const template = templateOf(st);
      if (template === undefined || this.#names.has(template) || this.#refused.has(template)) continue;
      const uses = (this.#uses.get(template) ?? 0) + 1;
      if (uses < PREPARE_AFTER) {
        if (this.#uses.size >= MAX_COUNTED) this.#uses.clear();
        this.#uses.set(template, uses);
        continue;
      }
      this.#uses.delete(template);
      const name = nameOf(template);
      try {
        await query(`PREPARE ${name} AS ${template}`);
        this.#names.set(template, name);
      } catch (err) {
        // Another connection on the same session prepared it: the name is the template's.
        if ((err as { code?: string }).code === DUPLICATE_PREPARED_STATEMENT) this.#names.set(template, name);
        else {
          this.#refused.add(template);
          this.#onRefused?.(template, err);
        }
      }
    }
  }

  /** The statements as one script's text: EXECUTE for the prepared ones, the text for the rest. */
  render(statements: readonly SqlText[]): string {
    let out = '';
    for (const st of statements) {
      const template = this.#names.size > 0 ? templateOf(st) : undefined;
      const name = template === undefined ? undefined : this.#names.get(template);
      if (name === undefined) out += `${st.text};\n`;
      else out += st.args.length === 0 ? `EXECUTE ${name};\n` : `EXECUTE ${name}(${st.args.join(', ')});\n`;
    }
    return out;
  }

  /** Forgets everything: the session lost its prepared statements (it was reset). */
  clear(): void {
    this.#names.clear();
    this.#uses.clear();
  }
}

/** PostgreSQL's codes: a name already prepared; a name not prepared (the session forgot it). */
const DUPLICATE_PREPARED_STATEMENT = '42P05';
export const UNDEFINED_PREPARED_STATEMENT = '26000';

function templateOf(st: SqlText): string | undefined {
  if (st.args.length === 0 || st.args.length > MAX_ARGS) return undefined;
  const template = st.template;
  // A template with a ';' may hold two statements: PREPARE would take the first and run the second.
  return template.length > MAX_TEMPLATE || template.includes(';') ? undefined : template;
}

/** The template's name: the same on every connection and process that sends it. */
function nameOf(template: string): string {
  return `troupe_${createHash('sha256').update(template).digest('hex').slice(0, 24)}`;
}
