import { type CrewInputShape, validateCrew } from '../../crews/crew-definition.js';
import { createCrewRecords, readCrewDefinition, updateCrewRecords } from '../../crews/crew-store.js';
import { notFound } from '../../errors.js';
import type { ModelProvider } from '../../generated/prisma/enums.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';
import { parseRetryInput, RetryPolicyInput } from './crew-retry.js';
import { CrewProcessEnum, ModelProviderEnum } from './enums.js';

const ModelConfig = builder
  .objectRef<{ provider: ModelProvider; name: string; temperature: number | null; maxTokens: number | null }>(
    'ModelConfig',
  )
  .implement({
    fields: (t) => ({
      provider: t.field({ type: ModelProviderEnum, resolve: (m) => m.provider }),
      name: t.exposeString('name'),
      temperature: t.exposeFloat('temperature', { nullable: true }),
      maxTokens: t.exposeInt('maxTokens', { nullable: true }),
    }),
  });

export const Crew = builder.prismaNode('Crew', {
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    process: t.expose('process', { type: CrewProcessEnum }),
    version: t.exposeInt('version', {
      description: 'Incremented by every update; runs pin the version they started with.',
    }),
    manager: t.relation('manager', {
      nullable: true,
      description: 'The manager agent of a HIERARCHICAL crew.',
    }),
    agents: t.relation('agents', { query: { orderBy: { position: 'asc' } } }),
    tasks: t.relation('tasks', { query: { orderBy: { position: 'asc' } } }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const Agent = builder.prismaNode('Agent', {
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.exposeString('role'),
    goal: t.exposeString('goal'),
    backstory: t.exposeString('backstory'),
    instructions: t.exposeString('instructions'),
    model: t.field({
      type: ModelConfig,
      resolve: (a) => ({
        provider: a.modelProvider,
        name: a.modelName,
        temperature: a.temperature,
        maxTokens: a.maxTokens,
      }),
    }),
    tools: t.exposeStringList('tools'),
    maxIterations: t.exposeInt('maxIterations'),
    allowDelegation: t.exposeBoolean('allowDelegation'),
    crew: t.relation('crew'),
  }),
});

export const Task = builder.prismaNode('Task', {
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', {
      description: 'Template; {{input}} placeholders are filled from run inputs.',
    }),
    expectedOutput: t.exposeString('expectedOutput'),
    agent: t.relation('agent'),
    outputSchema: t.expose('outputSchema', {
      type: 'JSON',
      nullable: true,
      description: 'JSON Schema for structured output.',
    }),
    requiresApproval: t.exposeBoolean('requiresApproval'),
    crew: t.relation('crew'),
  }),
});

builder.prismaObjectField('Task', 'dependsOn', (t) =>
  t.field({
    type: [Task],
    description: 'Tasks whose outputs this task needs; they run before it.',
    select: { dependsOn: { select: { dependsOn: true }, orderBy: { dependsOn: { position: 'asc' } } } },
    resolve: (task) => task.dependsOn.map((d) => d.dependsOn),
  }),
);

builder.queryField('crews', (t) =>
  t.prismaConnection({
    type: 'Crew',
    cursor: 'id',
    defaultSize: 20,
    maxSize: 100,
    authScopes: { read: true },
    // Pages by comparing ids rather than with Prisma's cursor, which needs the cursor's row to
    // still exist: deleting the last crew of a page would otherwise end the listing right there.
    resolve: (query, _r, _a, ctx) => {
      const { cursor, skip: _skip, ...page } = query;
      const from = cursor?.id;
      return ctx.db.crew.findMany({
        ...page,
        ...(from ? { where: { id: page.take < 0 ? { lt: from } : { gt: from } } } : {}),
        orderBy: { id: 'asc' },
      });
    },
  }),
);

builder.queryField('crew', (t) =>
  t.prismaField({
    type: 'Crew',
    nullable: true,
    authScopes: { read: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const id = parseGlobalId('id', String(args.id), 'Crew');
      const crew = await ctx.db.crew.findUnique({ ...query, where: { id } });
      if (!crew) throw notFound('Crew', String(args.id));
      return crew;
    },
  }),
);

const ModelInput = builder.inputType('ModelInput', {
  fields: (t) => ({
    provider: t.field({ type: ModelProviderEnum, required: true }),
    name: t.string({ required: true, description: 'Model name, e.g. gpt-4o-mini or llama3.2.' }),
    temperature: t.float({ description: '0 to 2.' }),
    maxTokens: t.int(),
  }),
});

const AgentInput = builder.inputType('AgentInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique within the crew; tasks refer to agents by name.' }),
    role: t.string({ required: true }),
    goal: t.string(),
    backstory: t.string(),
    instructions: t.string(),
    model: t.field({ type: ModelInput, required: true }),
    tools: t.stringList({ description: 'Names of tools the agent may call.' }),
    maxIterations: t.int({ description: 'Bound on the tool-calling loop (1-100, default 10).' }),
    allowDelegation: t.boolean(),
  }),
});

const TaskInput = builder.inputType('TaskInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique within the crew.' }),
    description: t.string({ required: true, description: 'Template with {{input}} placeholders.' }),
    expectedOutput: t.string(),
    agent: t.string({ required: true, description: 'Name of one of the crew’s agents.' }),
    dependsOn: t.stringList({ description: 'Names of tasks this one needs; they must not form a cycle.' }),
    outputSchema: t.field({ type: 'JSON', description: 'JSON Schema for structured output.' }),
    requiresApproval: t.boolean(),
  }),
});

const CreateCrewInput = builder.inputType('CreateCrewInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    process: t.field({ type: CrewProcessEnum, defaultValue: 'SEQUENTIAL' }),
    manager: t.string({ description: 'HIERARCHICAL only: the name of the agent that manages.' }),
    agents: t.field({ type: [AgentInput], required: true }),
    tasks: t.field({ type: [TaskInput], required: true }),
    retry: t.field({ type: RetryPolicyInput, description: 'Default: 1 attempt (no retry), 1000 ms.' }),
  }),
});

const UpdateCrewInput = builder.inputType('UpdateCrewInput', {
  description:
    'Fields left out keep their value; agents and tasks, when given, replace the lists (matched by name).',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    description: t.string(),
    process: t.field({ type: CrewProcessEnum }),
    manager: t.string(),
    agents: t.field({ type: [AgentInput] }),
    tasks: t.field({ type: [TaskInput] }),
    retry: t.field({ type: RetryPolicyInput, description: 'Applies to runs started from now on.' }),
  }),
});

const CrewPayload = (name: string) =>
  builder.objectRef<{ id: string }>(name).implement({
    fields: (t) => ({
      crew: t.prismaField({
        type: 'Crew',
        resolve: (query, p, _a, ctx) => ctx.db.crew.findUniqueOrThrow({ ...query, where: { id: p.id } }),
      }),
    }),
  });
const CreateCrewPayload = CrewPayload('CreateCrewPayload');
const UpdateCrewPayload = CrewPayload('UpdateCrewPayload');

const DeleteCrewPayload = builder.objectRef<{ deletedId: string }>('DeleteCrewPayload').implement({
  fields: (t) => ({ deletedId: t.exposeID('deletedId') }),
});

builder.mutationField('createCrew', (t) =>
  t.field({
    type: CreateCrewPayload,
    description:
      'Creates a crew with its agents and tasks in one call. Nothing is written if any part is invalid.',
    authScopes: { $all: { write: true, apiKey: true } },
    args: { input: t.arg({ type: CreateCrewInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const def = validateCrew(input as CrewInputShape);
      const retry = parseRetryInput('input.retry', input.retry);
      const crew = await createCrewRecords(ctx.db, tenantId, def);
      if (Object.keys(retry).length) await ctx.db.crew.update({ where: { id: crew.id }, data: retry });
      await audit(ctx, ctx.db, tenantId, 'crew.create', { type: 'Crew', id: crew.id }, { name: def.name });
      return crew;
    },
  }),
);

builder.mutationField('updateCrew', (t) =>
  t.field({
    type: UpdateCrewPayload,
    description: 'Changes a crew and bumps its version. Runs already started keep the version they pinned.',
    authScopes: { $all: { write: true, apiKey: true } },
    args: { input: t.arg({ type: UpdateCrewInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('input.id', String(input.id), 'Crew');
      const current = await readCrewDefinition(ctx.db, id);
      if (!current) throw notFound('Crew', String(input.id));
      const process = input.process ?? current.process;
      const merged: CrewInputShape = {
        name: input.name ?? current.name,
        description: input.description ?? current.description,
        process,
        manager:
          input.manager !== undefined ? input.manager : process === 'HIERARCHICAL' ? current.manager : null,
        agents: (input.agents ?? current.agents) as CrewInputShape['agents'],
        tasks: (input.tasks ?? current.tasks) as CrewInputShape['tasks'],
      };
      const def = validateCrew(merged);
      const retry = parseRetryInput('input.retry', input.retry);
      await updateCrewRecords(ctx.db, tenantId, id, def);
      if (Object.keys(retry).length) await ctx.db.crew.update({ where: { id }, data: retry });
      await audit(ctx, ctx.db, tenantId, 'crew.update', { type: 'Crew', id });
      return { id };
    },
  }),
);

builder.mutationField('deleteCrew', (t) =>
  t.field({
    type: DeleteCrewPayload,
    description: 'Deletes a crew with its agents and tasks. Finished runs stay queryable.',
    authScopes: { $all: { write: true, apiKey: true } },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'Crew');
      const { count } = await ctx.db.crew.deleteMany({ where: { id } });
      if (count === 0) throw notFound('Crew', String(args.id));
      await audit(ctx, ctx.db, tenantId, 'crew.delete', { type: 'Crew', id });
      return { deletedId: String(args.id) };
    },
  }),
);
