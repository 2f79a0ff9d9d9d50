import type { JsonSchema } from '../tools/json-schema.js';
import { schemaIssues } from '../tools/schema-validation.js';

export type StructuredParse = { ok: true; value: unknown } | { ok: false; issues: string[] };

/** Extracts the JSON answer from model text (bare, or inside a ``` fence) and validates it. */
export function parseStructuredOutput(text: string, schema: JsonSchema): StructuredParse {
  const candidate = extractJson(text);
  if (candidate === undefined) return { ok: false, issues: ['the answer is not valid JSON'] };
  const issues = schemaIssues(schema, candidate);
  return issues.length === 0 ? { ok: true, value: candidate } : { ok: false, issues };
}

function extractJson(text: string): unknown {
  const trimmed = text.trim();
  const attempts = [trimmed];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed);
  if (fenced?.[1]) attempts.push(fenced[1].trim());
  const firstBrace = trimmed.search(/[[{]/);
  if (firstBrace > 0) attempts.push(trimmed.slice(firstBrace));
  for (const attempt of attempts) {
    try {
      return JSON.parse(attempt);
    } catch {
      // try the next shape
    }
  }
  return undefined;
}
