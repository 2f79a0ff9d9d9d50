/**
 * SQL text with its values inlined as literals, for scripts sent as one simple-protocol message
 * (several statements, one round trip: see Database.script). Values only ever enter as escaped
 * literals through the `sql` tag; SQL itself only through the template's own text.
 */
export class SqlText {
  constructor(readonly text: string) {}
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

/** A value as a SQL literal. Dates become TIMESTAMP(3) in UTC, as Prisma stores DateTime. */
export function literal(v: SqlValue): string {
  if (v instanceof SqlText) return v.text;
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (v instanceof Date) return `${stringLiteral(v.toISOString().replace('Z', ''))}::timestamp(3)`;
  return stringLiteral(v);
}

/** A JSON value as a JSONB literal (undefined: NULL). */
export function jsonb(v: unknown): SqlText {
  return new SqlText(v === undefined || v === null ? 'NULL' : `${stringLiteral(JSON.stringify(v))}::jsonb`);
}

/** The tag: `sql\`UPDATE "Run" SET "status" = ${status} WHERE "id" = ${id}\``. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlText {
  let text = strings[0]!;
  for (let i = 0; i < values.length; i++) text += literal(values[i]) + strings[i + 1]!;
  return new SqlText(text);
}

/** Fragments joined with a separator (a VALUES list, say). */
export function joinSql(parts: readonly SqlText[], separator = ', '): SqlText {
  return new SqlText(parts.map((p) => p.text).join(separator));
}
