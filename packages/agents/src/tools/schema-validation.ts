import { Validator } from '@langchain/core/utils/json_schema';
import type { JsonSchema } from './json-schema.js';

const validators = new WeakMap<object, Validator>();

/**
 * Validates `value` against a JSON Schema (draft 2020-12 keywords, via @cfworker/json-schema).
 * Returns human-readable issues; an empty list means valid.
 */
export function schemaIssues(schema: JsonSchema, value: unknown): string[] {
  let validator = validators.get(schema);
  if (!validator) {
    validator = new Validator(schema as ConstructorParameters<typeof Validator>[0], '2020-12', false);
    validators.set(schema, validator);
  }
  const result = validator.validate(value);
  if (result.valid) return [];
  const issues = result.errors
    // Drop the generic wrapper errors ("Property x does not match schema") when a precise one exists.
    .filter((error) => !(result.errors.length > 1 && error.keyword === 'properties'))
    .map((error) => `${error.instanceLocation === '#' ? '(root)' : error.instanceLocation}: ${error.error}`);
  return [...new Set(issues)];
}
