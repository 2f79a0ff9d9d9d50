import type { Scope } from './scopes.js';

/** Who is calling. Every GraphQL operation and stream has one. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'apiKey'; tenantId: string; keyId: string; scopes: Scope[] }
  | {
      kind: 'session';
      tenantId: string;
      keyId: string;
      subject: string;
      scopes: Scope[];
      /** When set, the token may only touch these threads. */
      threadIds?: string[];
      expiresAt: Date;
    };

export type TenantPrincipal = Exclude<Principal, { kind: 'admin' }>;
