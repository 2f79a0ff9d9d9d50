import { badInput } from '../errors.js';

export const LIMITS = {
  name: 200,
  text: 20_000,
  agents: 50,
  tasks: 200,
  tools: 50,
  schemaBytes: 64_000,
} as const;

const NAME_RE = /^[\p{L}\p{N}][\p{L}\p{N} _.-]*$/u;

/** A required string: trimmed, non-empty, at most `max` characters. */
export function requiredText(
  field: string,
  value: string | null | undefined,
  max: number = LIMITS.text,
): string {
  const v = (value ?? '').trim();
  if (!v) throw badInput(field, 'must not be empty');
  if (v.length > max) throw badInput(field, `must be at most ${max} characters (got ${v.length})`);
  return v;
}

export function optionalText(
  field: string,
  value: string | null | undefined,
  max: number = LIMITS.text,
): string {
  const v = (value ?? '').trim();
  if (v.length > max) throw badInput(field, `must be at most ${max} characters (got ${v.length})`);
  return v;
}

/**
 * A caller's idempotency key (null when none). Keys starting "hook:" are those of runs started by
 * inbound hooks: a caller's key there could take an awaited hook delivery's place (its request
 * would be answered 409, and nothing would start).
 */
export function idempotencyKeyText(field: string, value: string | null | undefined): string | null {
  const v = optionalText(field, value, 200);
  if (v.startsWith('hook:')) throw badInput(field, 'must not start with "hook:" (kept for inbound hooks)');
  return v || null;
}

/** A name used to refer to things (agents, tasks): letters, digits, space, _ . - ; at most 200. */
export function nameText(field: string, value: string | null | undefined): string {
  const v = requiredText(field, value, LIMITS.name);
  if (!NAME_RE.test(v))
    throw badInput(field, 'must start with a letter or digit and use only letters, digits, spaces, _ . -');
  return v;
}

export function intInRange(
  field: string,
  value: number | null | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max)
    throw badInput(field, `must be an integer from ${min} to ${max}`);
  return value;
}

export function numberInRange(
  field: string,
  value: number | null | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isFinite(value) || value < min || value > max)
    throw badInput(field, `must be a number from ${min} to ${max}`);
  return value;
}
