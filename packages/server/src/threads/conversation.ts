import type { ConversationTurn } from '@troupe/agents';
import type { Tx } from '../db/database.js';
import { estimateTokens } from './chat-crew.js';

/**
 * The turns a chat run sees, oldest first: the thread's earlier exchanges (a run's user message,
 * then its reply), the newest ones that fit in `budgetTokens` together; older ones are left out.
 */
export async function loadConversation(
  tx: Tx,
  threadId: string,
  run: { id: string; createdAt: Date },
  budgetTokens: number,
): Promise<ConversationTurn[]> {
  const rows = await tx.message.findMany({
    where: {
      threadId,
      role: { in: ['USER', 'ASSISTANT'] },
      OR: [{ runId: null }, { run: { createdAt: { lt: run.createdAt } } }],
    },
    select: {
      id: true,
      runId: true,
      role: true,
      content: true,
      tokenCount: true,
      createdAt: true,
      run: { select: { createdAt: true } },
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: 500,
  });
  // Whole exchanges (a run's question and its answer), newest first, while they fit the budget.
  // They are ordered by their run: a queued run's question may be older than the previous answer.
  const exchanges = new Map<string, { at: number; tokens: number; turns: ConversationTurn[] }>();
  for (const m of rows) {
    const k = m.runId ?? `message:${m.id}`;
    let x = exchanges.get(k);
    if (!x) {
      x = { at: (m.run?.createdAt ?? m.createdAt).getTime(), tokens: 0, turns: [] };
      exchanges.set(k, x);
    }
    x.tokens += m.tokenCount ?? estimateTokens(m.content);
    const turn: ConversationTurn = { role: m.role === 'USER' ? 'user' : 'assistant', content: m.content };
    if (m.role === 'USER') x.turns.unshift(turn);
    else x.turns.push(turn);
  }
  const turns: ConversationTurn[] = [];
  let spent = 0;
  for (const x of [...exchanges.values()].sort((a, b) => b.at - a.at)) {
    spent += x.tokens;
    if (spent > budgetTokens) break;
    turns.unshift(...x.turns);
  }
  return turns;
}
