import type { Tx } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Context } from './context.js';

/** Records who did what to which object, in the operation's transaction (so it rolls back with it). */
export async function audit(
  ctx: Context,
  tx: Tx,
  tenantId: string,
  action: string,
  target: { type: string; id: string },
  data?: Record<string, unknown>,
): Promise<void> {
  const p = ctx.principal;
  await tx.auditEvent.create({
    data: {
      tenantId,
      actorType: p.kind,
      actorId: p.kind === 'admin' ? 'admin' : p.kind === 'session' ? `${p.keyId}:${p.subject}` : p.keyId,
      action,
      targetType: target.type,
      targetId: target.id,
      ...(data ? { data: data as Prisma.InputJsonValue } : {}),
    },
  });
}
