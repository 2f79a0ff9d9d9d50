import { encodeGlobalID } from '@pothos/plugin-relay';
import type { TenantPrincipal } from '../../auth/principal.js';
import type { CrewDefinition } from '../../crews/crew-definition.js';
import { idempotencyKeyText, intInRange, optionalText, requiredText } from '../../crews/input-rules.js';
import { badInput, notFound, TroupeServerError } from '../../errors.js';
import { publishCommitted, publishEvents, threadChannel } from '../../events/run-channels.js';
import { appendRunEvents, readThreadLogPage, type StoredRunEvent } from '../../events/run-event-log.js';
import { openRunEventStream } from '../../events/run-event-stream.js';
import { Prisma } from '../../generated/prisma/client.js';
import { MessageRole, ThreadConcurrency } from '../../generated/prisma/enums.js';
import { messageCreatedEvent } from '../../runs/execute-run.js';
import { loadRuntime } from '../../runs/run-executor.js';
import { publishRunUpdate } from '../../runs/run-updates.js';
import { CHAT_MESSAGE_INPUT, CHAT_TASK_NAME, estimateTokens } from '../../threads/chat-crew.js';
import { assertNotThreadLimited, threadScope, threadScopeSql } from '../../threads/thread-access.js';
import { THREAD_BUSY_STATUSES } from '../../threads/thread-queue.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { type Context, tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';
import { RunEventTypeEnum } from './run.js';

const ThreadConcurrencyEnum = builder.enumType(ThreadConcurrency, {
  name: 'ThreadConcurrency',
  description:
    'What a message sent while the thread’s previous run is still going does: REJECT it (CONFLICT) or ENQUEUE it (its run starts when the previous one ends).',
});
const MessageRoleEnum = builder.enumType(MessageRole, { name: 'MessageRole' });

const MAX_MESSAGE_CHARS = 100_000;

builder.prismaNode('Thread', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [threadScope(ctx.principal)] }),
  description: 'A chat: its messages, and the runs that answered them.',
  fields: (t) => ({
    title: t.exposeString('title'),
    crew: t.relation('crew', { nullable: true, description: 'Set when the whole crew answers.' }),
    agent: t.relation('agent', { nullable: true, description: 'Set when one agent answers.' }),
    subject: t.exposeString('subject', {
      nullable: true,
      description: 'The end user (session token subject) who created the thread.',
    }),
    concurrency: t.expose('concurrency', { type: ThreadConcurrencyEnum }),
    historyTokens: t.exposeInt('historyTokens', {
      description: 'How many tokens of earlier messages each run sees (the newest ones).',
    }),
    lastSeq: t.exposeInt('lastSeq', {
      description: 'Sequence number of the newest event in the thread’s log.',
    }),
    resumeSeq: t.int({
      select: { id: true, lastSeq: true },
      description:
        'The afterSeq to open threadEvents with after loading the messages: lastSeq, or, while a run answers (or waits to), the number just before its first event, so the reply written so far streams in again from its start. Costs a query: ask for it on one thread, not in lists.',
      resolve: async (thread, _args, ctx) => {
        // The thread's runs still going (usually none, else one or a few queued behind it), then
        // their first events (seq 1: the user message's MESSAGE_CREATED) by primary key.
        const busy = await ctx.db.run.findMany({
          where: { threadId: thread.id, status: { in: [...THREAD_BUSY_STATUSES] } },
          select: { id: true },
        });
        if (busy.length === 0) return thread.lastSeq;
        const first = await ctx.db.runEvent.findMany({
          where: { runId: { in: busy.map((r) => r.id) }, seq: 1 },
          select: { threadSeq: true },
        });
        const seqs = first.map((e) => e.threadSeq).filter((n): n is number => n !== null);
        return seqs.length ? Math.min(Math.min(...seqs) - 1, thread.lastSeq) : thread.lastSeq;
      },
    }),
    messages: t.relatedConnection('messages', {
      cursor: 'id',
      description: 'Oldest first.',
      query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
    runs: t.relatedConnection('runs', {
      cursor: 'id',
      description: 'Newest first.',
      query: { orderBy: { id: 'desc' } },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaNode('Message', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, thread: threadScope(ctx.principal) }),
  fields: (t) => ({
    role: t.expose('role', { type: MessageRoleEnum }),
    content: t.exposeString('content'),
    run: t.relation('run', {
      nullable: true,
      description: 'USER: the run the message started; ASSISTANT: the run that wrote it.',
    }),
    thread: t.relation('thread'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('thread', (t) =>
  t.prismaField({
    type: 'Thread',
    nullable: true,
    authScopes: { read: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const id = parseGlobalId('id', String(args.id), 'Thread');
      const thread = await ctx.db.thread.findFirst({
        ...query,
        where: { id, ...threadScope(ctx.principal) },
      });
      if (!thread) throw notFound('Thread', String(args.id));
      return thread;
    },
  }),
);

builder.queryField('threads', (t) =>
  t.prismaConnection({
    type: 'Thread',
    cursor: 'id',
    defaultSize: 20,
    maxSize: 100,
    authScopes: { read: true },
    description: 'Threads, newest first (a session token sees its own).',
    args: { crewId: t.arg.id(), agentId: t.arg.id() },
    resolve: (query, _r, args, ctx) =>
      ctx.db.thread.findMany({
        ...query,
        where: {
          ...threadScope(ctx.principal),
          ...(args.crewId ? { crewId: parseGlobalId('crewId', String(args.crewId), 'Crew') } : {}),
          ...(args.agentId ? { agentId: parseGlobalId('agentId', String(args.agentId), 'Agent') } : {}),
        },
        orderBy: { id: 'desc' },
      }),
  }),
);

const CreateThreadInput = builder.inputType('CreateThreadInput', {
  fields: (t) => ({
    crewId: t.id({ description: 'The whole crew answers each message (give this or agentId).' }),
    agentId: t.id({ description: 'One agent answers each message (give this or crewId).' }),
    title: t.string(),
    concurrency: t.field({ type: ThreadConcurrencyEnum, description: 'Default REJECT.' }),
    historyTokens: t.int({ description: 'Default 4000; 0 sends no history.' }),
  }),
});

/** A chat crew's templates can only be filled with the message. */
async function assertChatCrew(field: string, def: CrewDefinition): Promise<void> {
  const { templateVariables } = await loadRuntime();
  for (const task of def.tasks) {
    const other = templateVariables(task.description).find((v) => v !== CHAT_MESSAGE_INPUT);
    if (other) {
      throw badInput(
        field,
        `task "${task.name}" needs {{${other}}}, but a chat fills only {{${CHAT_MESSAGE_INPUT}}} (the user’s message)`,
      );
    }
  }
}

const ThreadPayload = builder.objectRef<{ id: string }>('CreateThreadPayload').implement({
  fields: (t) => ({
    thread: t.prismaField({
      type: 'Thread',
      resolve: (query, p, _a, ctx) => ctx.db.thread.findUniqueOrThrow({ ...query, where: { id: p.id } }),
    }),
  }),
});

builder.mutationField('createThread', (t) =>
  t.field({
    type: ThreadPayload,
    description: 'Starts a chat with a crew or with one of its agents.',
    authScopes: { write: true },
    args: { input: t.arg({ type: CreateThreadInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const p = tenantOf(ctx);
      assertNotThreadLimited(p, 'create threads');
      if ((input.crewId == null) === (input.agentId == null))
        throw badInput('input', 'give exactly one of crewId and agentId');
      const title = optionalText('input.title', input.title, 200);
      const historyTokens =
        input.historyTokens == null
          ? 4000
          : intInRange('input.historyTokens', input.historyTokens, 0, 1_000_000);
      let crewId: string | null = null;
      let agentId: string | null = null;
      if (input.crewId != null) {
        crewId = parseGlobalId('input.crewId', String(input.crewId), 'Crew');
        const crew = await ctx.db.crew.findUnique({
          where: { id: crewId },
          select: { id: true, version: true },
        });
        if (!crew) throw notFound('Crew', String(input.crewId));
        const version = await ctx.db.crewVersion.findUniqueOrThrow({
          where: { crewId_version: { crewId, version: crew.version } },
        });
        await assertChatCrew('input.crewId', version.definition as unknown as CrewDefinition);
      } else {
        agentId = parseGlobalId('input.agentId', String(input.agentId), 'Agent');
        const agent = await ctx.db.agent.findUnique({ where: { id: agentId }, select: { id: true } });
        if (!agent) throw notFound('Agent', String(input.agentId));
      }
      const thread = await ctx.db.thread.create({
        data: {
          tenantId: p.tenantId,
          crewId,
          agentId,
          title,
          historyTokens,
          concurrency: input.concurrency ?? 'REJECT',
          subject: p.kind === 'session' ? p.subject : null,
        },
        select: { id: true },
      });
      await audit(ctx, ctx.db, p.tenantId, 'thread.create', { type: 'Thread', id: thread.id });
      return thread;
    },
  }),
);

const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    threadId: t.id({ required: true }),
    content: t.string({ required: true }),
    idempotencyKey: t.string({
      description:
        'The same key returns the same message and run; with other content or another thread it is refused (CONFLICT). At most 200 characters; keys starting "hook:" are kept for inbound hooks.',
    }),
  }),
});

const SendMessagePayload = builder
  .objectRef<{ messageId: string; runId: string }>('SendMessagePayload')
  .implement({
    fields: (t) => ({
      message: t.prismaField({
        type: 'Message',
        resolve: (query, p, _a, ctx) =>
          ctx.db.message.findUniqueOrThrow({ ...query, where: { id: p.messageId } }),
      }),
      run: t.prismaField({
        type: 'Run',
        description: 'The run that answers; its reply streams on threadEvents and runEvents.',
        resolve: (query, p, _a, ctx) => ctx.db.run.findUniqueOrThrow({ ...query, where: { id: p.runId } }),
      }),
    }),
  });

builder.mutationField('sendMessage', (t) =>
  t.field({
    type: SendMessagePayload,
    description:
      'Adds the user’s message to the thread and starts the run that answers it, with the thread’s history as memory. While an earlier run is still going, the thread’s concurrency policy decides: CONFLICT (REJECT) or wait (ENQUEUE).',
    authScopes: { write: true },
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const p = tenantOf(ctx);
      const threadId = parseGlobalId('input.threadId', String(input.threadId), 'Thread');
      const content = requiredText('input.content', input.content, MAX_MESSAGE_CHARS);
      const key = idempotencyKeyText('input.idempotencyKey', input.idempotencyKey);
      // Locks the thread's row: sends to one thread are serialized, and so is the policy check.
      const locked = await ctx.db.thread.updateMany({
        where: { id: threadId, ...threadScope(p) },
        data: { updatedAt: new Date() },
      });
      if (locked.count === 0) throw notFound('Thread', String(input.threadId));
      if (key) {
        const existing = await ctx.db.run.findUnique({
          where: { tenantId_idempotencyKey: { tenantId: p.tenantId, idempotencyKey: key } },
          select: {
            id: true,
            threadId: true,
            messages: { where: { role: 'USER' }, select: { id: true, content: true } },
          },
        });
        if (existing) {
          const sent = existing.messages[0];
          if (existing.threadId !== threadId || !sent)
            throw new TroupeServerError(
              'CONFLICT',
              'input.idempotencyKey: already used for another message or run',
            );
          if (sent.content !== content)
            throw new TroupeServerError(
              'CONFLICT',
              'input.idempotencyKey: already used for a message with other content',
            );
          return { messageId: sent.id, runId: existing.id };
        }
      }
      const thread = await ctx.db.thread.findUniqueOrThrow({
        where: { id: threadId },
        select: {
          concurrency: true,
          crewId: true,
          agent: { select: { crewId: true } },
          runs: {
            where: { status: { in: [...THREAD_BUSY_STATUSES] } },
            select: { id: true },
            take: 1,
          },
        },
      });
      const busy = thread.runs[0];
      if (busy && thread.concurrency === 'REJECT') {
        throw new TroupeServerError(
          'CONFLICT',
          `input.threadId: the thread’s previous run (${encodeGlobalID('Run', busy.id)}) is still going; wait for it, cancel it, or create the thread with concurrency ENQUEUE`,
        );
      }
      const crewId = thread.crewId ?? thread.agent?.crewId;
      if (!crewId) throw notFound('Thread', String(input.threadId));
      const crew = await ctx.db.crew.findUniqueOrThrow({
        where: { id: crewId },
        select: { version: true, maxAttempts: true, backoffMs: true },
      });
      const version = await ctx.db.crewVersion.findUniqueOrThrow({
        where: { crewId_version: { crewId, version: crew.version } },
      });
      const def = version.definition as unknown as CrewDefinition;
      if (thread.crewId) await assertChatCrew('input.threadId', def);
      const taskNames = thread.crewId ? def.tasks.map((task) => task.name) : [CHAT_TASK_NAME];
      const run = await ctx.db.run
        .create({
          data: {
            tenantId: p.tenantId,
            crewId,
            crewVersionId: version.id,
            threadId,
            inputs: { [CHAT_MESSAGE_INPUT]: content } as Prisma.InputJsonValue,
            idempotencyKey: key,
            // The crew's retry policy, as startRun's runs have it.
            maxAttempts: crew.maxAttempts,
            backoffMs: crew.backoffMs,
            waitingForThread: Boolean(busy),
            taskRuns: {
              create: taskNames.map((taskName, position) => ({ tenantId: p.tenantId, taskName, position })),
            },
          },
          select: { id: true },
        })
        .catch((err: unknown) => {
          // The key taken at the same moment by a send to another thread (sends to one thread
          // wait for each other, and find it above).
          if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002')
            throw new TroupeServerError(
              'CONFLICT',
              'input.idempotencyKey: already used for another message or run',
            );
          throw err;
        });
      const message = await ctx.db.message.create({
        data: {
          tenantId: p.tenantId,
          threadId,
          runId: run.id,
          role: 'USER',
          content,
          tokenCount: estimateTokens(content),
        },
      });
      const events = await appendRunEvents(ctx.db, p.tenantId, run.id, [messageCreatedEvent(message)]);
      ctx.afterCommit(async () => {
        await publishCommitted(() => publishEvents(ctx.runs.bus, events));
        if (!busy) await ctx.runs.executor.enqueue({ tenantId: p.tenantId, runId: run.id }, { fresh: true });
        await publishCommitted(() => publishRunUpdate(ctx.runs.bus, p.tenantId, run.id));
      });
      return { messageId: message.id, runId: run.id };
    },
  }),
);

const DeleteThreadPayload = builder.objectRef<{ id: string }>('DeleteThreadPayload').implement({
  fields: (t) => ({ deletedId: t.id({ resolve: (p) => encodeGlobalID('Thread', p.id) }) }),
});

builder.mutationField('deleteThread', (t) =>
  t.field({
    type: DeleteThreadPayload,
    description: 'Deletes a thread with its messages, runs and their logs. Cancel a running reply first.',
    authScopes: { write: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const p = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'Thread');
      const thread = await ctx.db.thread.findFirst({
        where: { id, ...threadScope(p) },
        select: {
          id: true,
          runs: { where: { status: { in: ['RUNNING', 'WAITING_FOR_APPROVAL'] } }, take: 1 },
        },
      });
      if (!thread) throw notFound('Thread', String(args.id));
      if (thread.runs.length > 0)
        throw new TroupeServerError('CONFLICT', 'id: a run of this thread is still going; cancel it first');
      const queued = await ctx.db.run.findMany({
        where: { threadId: id, status: 'QUEUED' },
        select: { id: true },
      });
      await ctx.db.run.deleteMany({ where: { threadId: id } });
      await ctx.db.thread.delete({ where: { id } });
      await audit(ctx, ctx.db, p.tenantId, 'thread.delete', { type: 'Thread', id });
      ctx.afterCommit(() => {
        // Their rows are gone: this only takes their jobs off the queue.
        for (const r of queued)
          void Promise.resolve(ctx.runs.executor.cancel(r.id, 'The thread was deleted.')).catch(() => {});
      });
      return { id };
    },
  }),
);

const ThreadEventRef = builder.objectRef<StoredRunEvent>('ThreadEvent').implement({
  description: 'One entry of a thread’s log: its messages and every event of the runs that answered them.',
  fields: (t) => ({
    seq: t.int({
      description: 'The thread’s own sequence number: starts at 1, no holes; resume with afterSeq.',
      resolve: (e) => e.threadSeq ?? 0,
    }),
    runId: t.id({ resolve: (e) => encodeGlobalID('Run', e.runId) }),
    runSeq: t.exposeInt('seq', { description: 'The event’s number in its run’s log.' }),
    type: t.field({ type: RunEventTypeEnum, resolve: (e) => e.type }),
    at: t.expose('at', { type: 'DateTime' }),
    taskRunId: t.id({
      nullable: true,
      resolve: (e) => (e.taskRunId ? encodeGlobalID('TaskRun', e.taskRunId) : null),
    }),
    delta: t.exposeString('delta', { nullable: true, description: 'Token text on TOKEN events.' }),
    data: t.field({
      type: 'JSON',
      nullable: true,
      description: 'MESSAGE_CREATED: { message: { id role content createdAt } }.',
      resolve: (e) => e.data,
    }),
  }),
});

/** A thread's log as the caller may see it: a thread outside their scope reads as not visible. */
function threadEventSource(ctx: Context, p: TenantPrincipal, threadId: string) {
  const tenantId = p.tenantId;
  const scope = threadScopeSql(p);
  return {
    bus: ctx.runs.bus,
    channel: threadChannel(threadId),
    page: (after: number) => readThreadLogPage(ctx.database, tenantId, threadId, after, 500, scope),
    seqOf: (e: StoredRunEvent) => e.threadSeq ?? 0,
    isLast: () => false,
  };
}

builder.subscriptionField('threadEvents', (t) =>
  t.field({
    type: ThreadEventRef,
    description:
      'A thread’s events after afterSeq (messages, and the tokens and steps of the runs answering them): the stored log first, then live, without gaps or duplicates. Stays open.',
    authScopes: { read: true },
    args: { threadId: t.arg.id({ required: true }), afterSeq: t.arg.int({ defaultValue: 0 }) },
    subscribe: async (_r, args, ctx) => {
      const p = tenantOf(ctx);
      const threadId = parseGlobalId('threadId', String(args.threadId), 'Thread');
      const afterSeq = args.afterSeq ?? 0;
      if (!Number.isInteger(afterSeq) || afterSeq < 0)
        throw badInput('afterSeq', 'must be 0 or a positive integer');
      // The first page is the check that the caller may see the thread: one round trip, and
      // NOT_FOUND is thrown here, as the subscription's one result.
      return openRunEventStream(threadEventSource(ctx, p, threadId), {
        afterSeq,
        signal: ctx.request?.signal,
        notVisible: () => notFound('Thread', String(args.threadId)),
      });
    },
    resolve: (e) => e,
  }),
);
