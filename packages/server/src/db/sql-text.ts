/**
 * SQL text with its values kept apart as literals, for scripts sent as one simple-protocol message
 * (several statements, one round trip: see Database.script). Values only ever enter as escaped
 * literals through the `sql` tag; SQL itself only through the template's own text.
 *
 * A statement reads either way: `text`, the values inlined, or `template`, the values as $1, $2, ...
 * (each with the type its literal has inline, so both mean the same), for PREPARE; `args` are the
 * literals an EXECUTE of the template passes (see PreparedStatements).
 */
export class SqlText {
  /** The SQL around the values: one more part than there are args. */
  readonly parts: readonly string[];
  /** Each value as a SQL literal. */
  readonly args: readonly string[];
  #text: string | undefined;
  #template: string | undefined;

  constructor(parts: string | readonly string[], args: readonly string[] = []) {
    this.parts = typeof parts === 'string' ? [parts] : parts;
    this.args = args;
    if (this.parts.length !== this.args.length + 1) throw new Error('SqlText: one more part than args');
  }

  /** The statement with its values inlined. */
  get text(): string {
    this.#text ??= this.#join((i) => this.args[i]!);
    return this.#text;
  }

  /** The statement with its values as parameters $1, $2, ... */
  get template(): string {
    this.#template ??= this.#join((i) => `$${i + 1}`);
    return this.#template;
  }

  #join(value: (i: number) => string): string {
    let text = this.parts[0]!;
    for (let i = 0; i < this.args.length; i++) text += value(i) + this.parts[i + 1]!;
    return text;
  }

  toString(): string {
    return this.text;
  }
}

export type SqlValue = string | number | boolean | Date | null | undefined | SqlText;

/**
 * A string literal, escaped the way pg's escapeLiteral does (safe whatever standard_conforming_strings
 * says). Replaced natively, not built a character at a time: that made a string of one node per
 * character, and a run's megabyte of output took seconds of garbage collection to store.
 */
function stringLiteral(s: string): string {
  if (s.includes('\0')) throw new Error('SQL text values cannot contain NUL characters');
  const quoted = s.includes("'") ? s.replaceAll("'", "''") : s;
  if (!s.includes('\\')) return `'${quoted}'`;
  return ` E'${quoted.replaceAll('\\', '\\\\')}'`;
}

/**
 * A value as a literal and the cast that gives it, as a parameter, the type the literal has inline:
 * strings and NULL stay untyped (the context types them, as it does a quoted literal); a number is
 * int4, int8 or numeric as PostgreSQL reads the digits; Dates become TIMESTAMP(3) in UTC, as Prisma
 * stores DateTime.
 */
function literalAndCast(v: Exclude<SqlValue, SqlText>): [literal: string, cast: string] {
  if (v === null || v === undefined) return ['NULL', ''];
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    const cast = !Number.isSafeInteger(v) ? '::numeric' : Math.abs(v) <= 2_147_483_647 ? '::int4' : '::int8';
    return [String(v), cast];
  }
  if (typeof v === 'boolean') return [v ? 'TRUE' : 'FALSE', '::boolean'];
  if (v instanceof Date) return [stringLiteral(v.toISOString().replace('Z', '')), '::timestamp(3)'];
  return [stringLiteral(v), ''];
}

/** Sets a setting for the rest of the transaction (the tenant, say: row-level security reads it). */
export function setConfig(name: string, value: string): SqlText {
  return sql`SELECT set_config(${name}, ${value}, true)`;
}

/** A JSON value as a JSONB literal (undefined: NULL). */
export function jsonb(v: unknown): SqlText {
  return new SqlText(
    ['', '::jsonb'],
    [v === undefined || v === null ? 'NULL' : stringLiteral(JSON.stringify(v))],
  );
}

/** Builds parts and args, a fragment or a value at a time. */
class Builder {
  readonly parts: string[] = [''];
  readonly args: string[] = [];
  text(s: string): void {
    this.parts[this.parts.length - 1] += s;
  }
  value(v: SqlValue): void {
    if (v instanceof SqlText) {
      this.text(v.parts[0]!);
      for (let i = 0; i < v.args.length; i++) {
        this.args.push(v.args[i]!);
        this.parts.push(v.parts[i + 1]!);
      }
      return;
    }
    const [lit, cast] = literalAndCast(v);
    this.args.push(lit);
    this.parts.push(cast);
  }
  build(): SqlText {
    return new SqlText(this.parts, this.args);
  }
}

/** The tag: `sql\`UPDATE "Run" SET "status" = ${status} WHERE "id" = ${id}\``. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlText {
  const b = new Builder();
  b.text(strings[0]!);
  for (let i = 0; i < values.length; i++) {
    b.value(values[i]);
    b.text(strings[i + 1]!);
  }
  return b.build();
}

/** Fragments joined with a separator (a VALUES list, say). */
export function joinSql(parts: readonly SqlText[], separator = ', '): SqlText {
  const b = new Builder();
  for (const [i, p] of parts.entries()) {
    if (i > 0) b.text(separator);
    b.value(p);
  }
  return b.build();
}
