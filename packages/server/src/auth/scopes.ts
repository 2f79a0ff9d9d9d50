/** API key scopes. `admin` implies `write`, which implies `read`. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/** Whether the granted scopes include `wanted`, directly or by implication. */
export function allows(granted: readonly Scope[], wanted: Scope): boolean {
  return granted.some((g) => RANK[g] >= RANK[wanted]);
}

/** The scopes granted, with every implied scope added, in a stable order. */
export function effectiveScopes(granted: readonly Scope[]): Scope[] {
  return SCOPES.filter((s) => allows(granted, s));
}
