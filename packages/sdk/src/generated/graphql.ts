/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type AgentInput = {
  allowDelegation?: boolean | null | undefined;
  backstory?: string | null | undefined;
  goal?: string | null | undefined;
  instructions?: string | null | undefined;
  /** Bound on the tool-calling loop (1-100, default 10). */
  maxIterations?: number | null | undefined;
  model: ModelInput;
  /** Unique within the crew; tasks refer to agents by name. */
  name: string;
  role: string;
  /** Names of tools the agent may call. */
  tools?: Array<string> | null | undefined;
};

export type CreateApiKeyInput = {
  name: string;
  scopes: Array<Scope>;
};

export type CreateCrewInput = {
  agents: Array<AgentInput>;
  description?: string | null | undefined;
  /** HIERARCHICAL only: the name of the agent that manages. */
  manager?: string | null | undefined;
  name: string;
  process?: CrewProcess | null | undefined;
  /** Default: 1 attempt (no retry), 1000 ms. */
  retry?: RetryPolicyInput | null | undefined;
  tasks: Array<TaskInput>;
};

export type CreateDocumentInput = {
  /** The text (files of any type: POST /documents). */
  content: string;
  /** A JSON object kept with the document. */
  metadata?: unknown;
  /** text/plain (default), text/markdown, text/csv, text/html or application/json. */
  mimeType?: string | null | undefined;
  name: string;
};

/** A short-lived token for one end user of a host app. */
export type CreateSessionTokenInput = {
  /** At most the scopes of the key that mints it. Default: READ. */
  scopes?: Array<Scope> | null | undefined;
  /** Your identifier for the end user. */
  subject: string;
  /** When given, the token can only touch these threads. */
  threadIds?: Array<string> | null | undefined;
  /** Default 3600, at most 86400. */
  ttlSeconds?: number | null | undefined;
};

export type CreateTenantInput = {
  name: string;
};

export type CreateThreadInput = {
  /** One agent answers each message (give this or crewId). */
  agentId?: string | null | undefined;
  /** Default REJECT. */
  concurrency?: ThreadConcurrency | null | undefined;
  /** The whole crew answers each message (give this or agentId). */
  crewId?: string | null | undefined;
  /** Default 4000; 0 sends no history. */
  historyTokens?: number | null | undefined;
  title?: string | null | undefined;
};

/** How a crew runs its tasks. */
export type CrewProcess =
  | 'HIERARCHICAL'
  | 'PARALLEL'
  | 'SEQUENTIAL';

/** PENDING: stored, waiting to be processed; PROCESSING: being split and embedded (see progress); READY: searchable; FAILED: see error. */
export type DocumentStatus =
  | 'FAILED'
  | 'PENDING'
  | 'PROCESSING'
  | 'READY';

export type MessageRole =
  | 'ASSISTANT'
  | 'SYSTEM'
  | 'USER';

export type ModelInput = {
  maxTokens?: number | null | undefined;
  /** Model name, e.g. gpt-4o-mini or llama3.2. */
  name: string;
  provider: ModelProvider;
  /** 0 to 2. */
  temperature?: number | null | undefined;
};

/** OPENAI (or any OpenAI-compatible URL via OPENAI_BASE_URL), OLLAMA, OPENAI_COMPATIBLE, SCRIPTED (deterministic demos and tests). */
export type ModelProvider =
  | 'OLLAMA'
  | 'OPENAI'
  | 'OPENAI_COMPATIBLE'
  | 'SCRIPTED';

export type PrincipalKind =
  | 'ADMIN'
  | 'API_KEY'
  | 'SESSION';

export type RespondToRunInput = {
  approved: boolean;
  feedback?: string | null | undefined;
  runId: string;
  taskRunId: string;
};

export type RetryPolicyInput = {
  /** Wait before the first retry: 0 to 3600000 ms. */
  backoffMs?: number | null | undefined;
  /** Attempts in all, the first included: 1 (no retry) to 10. */
  maxAttempts?: number | null | undefined;
};

export type RunEventType =
  | 'APPROVAL_REQUESTED'
  | 'MESSAGE_CREATED'
  | 'RUN_CANCELLED'
  | 'RUN_FAILED'
  | 'RUN_RETRYING'
  | 'RUN_STARTED'
  | 'RUN_SUCCEEDED'
  | 'TASK_COMPLETED'
  | 'TASK_STARTED'
  | 'TOKEN'
  | 'TOOL_CALL'
  | 'TOOL_RESULT'
  | 'USAGE';

export type RunStatus =
  | 'CANCELLED'
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'WAITING_FOR_APPROVAL';

/** API key scopes: ADMIN implies WRITE, which implies READ. */
export type Scope =
  | 'ADMIN'
  | 'READ'
  | 'WRITE';

export type SearchDocumentsInput = {
  /** Search only these documents. */
  documentIds?: Array<string> | null | undefined;
  /** Hits returned, 1 to 50. Default 5. */
  limit?: number | null | undefined;
  /** Search only documents whose metadata contains this object, e.g. {"team": "support"}. */
  metadata?: unknown;
  /** Leave out hits scoring below this (cosine similarity, -1 to 1). */
  minScore?: number | null | undefined;
  query: string;
};

export type SendMessageInput = {
  content: string;
  /** The same key returns the same message and run; with other content or another thread it is refused (CONFLICT). At most 200 characters; keys starting "hook:" are kept for inbound hooks. */
  idempotencyKey?: string | null | undefined;
  threadId: string;
};

export type StartRunInput = {
  crewId: string;
  /** The same key returns the same run instead of starting another, also to requests made at the same moment; with another crew or other inputs it is refused (CONFLICT). At most 200 characters; keys starting "hook:" are kept for inbound hooks. */
  idempotencyKey?: string | null | undefined;
  /** Values for the {{placeholders}} of the crew’s task templates. */
  inputs?: unknown;
  /** The end user the run is for (API keys): only that user’s session tokens (and API keys) see it, and may cancel, retry or answer it. A session token’s runs are always its own subject’s. Without one, the run is the tenant’s: every user’s session tokens can read it, none can act on it. */
  subject?: string | null | undefined;
};

export type TaskInput = {
  /** Name of one of the crew’s agents. */
  agent: string;
  /** Names of tasks this one needs; they must not form a cycle. */
  dependsOn?: Array<string> | null | undefined;
  /** Template with {{input}} placeholders. */
  description: string;
  expectedOutput?: string | null | undefined;
  /** Unique within the crew. */
  name: string;
  /** JSON Schema for structured output. */
  outputSchema?: unknown;
  requiresApproval?: boolean | null | undefined;
};

export type TaskRunStatus =
  | 'CANCELLED'
  | 'FAILED'
  | 'PENDING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'WAITING_FOR_APPROVAL';

/** What a message sent while the thread’s previous run is still going does: REJECT it (CONFLICT) or ENQUEUE it (its run starts when the previous one ends). */
export type ThreadConcurrency =
  | 'ENQUEUE'
  | 'REJECT';

/** Fields left out keep their value; agents and tasks, when given, replace the lists (matched by name). */
export type UpdateCrewInput = {
  agents?: Array<AgentInput> | null | undefined;
  description?: string | null | undefined;
  id: string;
  manager?: string | null | undefined;
  name?: string | null | undefined;
  process?: CrewProcess | null | undefined;
  /** Applies to runs started from now on. */
  retry?: RetryPolicyInput | null | undefined;
  tasks?: Array<TaskInput> | null | undefined;
};

export type ApiKeyFieldsFragment = { id: string, name: string, prefix: string, scopes: Array<Scope>, createdAt: string, lastUsedAt: string | null, revokedAt: string | null };

export type ApiKeysQueryVariables = Exact<{ [key: string]: never; }>;


export type ApiKeysQuery = { apiKeys: Array<{ id: string, name: string, prefix: string, scopes: Array<Scope>, createdAt: string, lastUsedAt: string | null, revokedAt: string | null }> };

export type CreateApiKeyMutationVariables = Exact<{
  input: CreateApiKeyInput;
}>;


export type CreateApiKeyMutation = { createApiKey: { secret: string, apiKey: { id: string, name: string, prefix: string, scopes: Array<Scope>, createdAt: string, lastUsedAt: string | null, revokedAt: string | null } } };

export type RevokeApiKeyMutationVariables = Exact<{
  id: string;
}>;


export type RevokeApiKeyMutation = { revokeApiKey: { apiKey: { id: string, name: string, prefix: string, scopes: Array<Scope>, createdAt: string, lastUsedAt: string | null, revokedAt: string | null } } };

export type CrewFieldsFragment = { id: string, name: string, description: string, process: CrewProcess, version: number, createdAt: string, updatedAt: string, manager: { name: string } | null, agents: Array<{ id: string, name: string, role: string, goal: string, backstory: string, instructions: string, tools: Array<string>, allowDelegation: boolean, maxIterations: number, model: { provider: ModelProvider, name: string, temperature: number | null, maxTokens: number | null } }>, tasks: Array<{ id: string, name: string, description: string, expectedOutput: string, outputSchema: unknown, requiresApproval: boolean, agent: { name: string }, dependsOn: Array<{ name: string }> }> };

export type CrewsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type CrewsQuery = { crews: { edges: Array<{ node: { id: string, name: string, description: string, process: CrewProcess, version: number, createdAt: string, updatedAt: string, manager: { name: string } | null, agents: Array<{ id: string, name: string, role: string, goal: string, backstory: string, instructions: string, tools: Array<string>, allowDelegation: boolean, maxIterations: number, model: { provider: ModelProvider, name: string, temperature: number | null, maxTokens: number | null } }>, tasks: Array<{ id: string, name: string, description: string, expectedOutput: string, outputSchema: unknown, requiresApproval: boolean, agent: { name: string }, dependsOn: Array<{ name: string }> }> } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean, startCursor: string | null, hasPreviousPage: boolean } } };

export type CrewQueryVariables = Exact<{
  id: string;
}>;


export type CrewQuery = { crew: { id: string, name: string, description: string, process: CrewProcess, version: number, createdAt: string, updatedAt: string, manager: { name: string } | null, agents: Array<{ id: string, name: string, role: string, goal: string, backstory: string, instructions: string, tools: Array<string>, allowDelegation: boolean, maxIterations: number, model: { provider: ModelProvider, name: string, temperature: number | null, maxTokens: number | null } }>, tasks: Array<{ id: string, name: string, description: string, expectedOutput: string, outputSchema: unknown, requiresApproval: boolean, agent: { name: string }, dependsOn: Array<{ name: string }> }> } | null };

export type CreateCrewMutationVariables = Exact<{
  input: CreateCrewInput;
}>;


export type CreateCrewMutation = { createCrew: { crew: { id: string, name: string, description: string, process: CrewProcess, version: number, createdAt: string, updatedAt: string, manager: { name: string } | null, agents: Array<{ id: string, name: string, role: string, goal: string, backstory: string, instructions: string, tools: Array<string>, allowDelegation: boolean, maxIterations: number, model: { provider: ModelProvider, name: string, temperature: number | null, maxTokens: number | null } }>, tasks: Array<{ id: string, name: string, description: string, expectedOutput: string, outputSchema: unknown, requiresApproval: boolean, agent: { name: string }, dependsOn: Array<{ name: string }> }> } } };

export type UpdateCrewMutationVariables = Exact<{
  input: UpdateCrewInput;
}>;


export type UpdateCrewMutation = { updateCrew: { crew: { id: string, name: string, description: string, process: CrewProcess, version: number, createdAt: string, updatedAt: string, manager: { name: string } | null, agents: Array<{ id: string, name: string, role: string, goal: string, backstory: string, instructions: string, tools: Array<string>, allowDelegation: boolean, maxIterations: number, model: { provider: ModelProvider, name: string, temperature: number | null, maxTokens: number | null } }>, tasks: Array<{ id: string, name: string, description: string, expectedOutput: string, outputSchema: unknown, requiresApproval: boolean, agent: { name: string }, dependsOn: Array<{ name: string }> }> } } };

export type DeleteCrewMutationVariables = Exact<{
  id: string;
}>;


export type DeleteCrewMutation = { deleteCrew: { deletedId: string } };

export type DocumentFieldsFragment = { id: string, name: string, mimeType: string, sizeBytes: number, status: DocumentStatus, error: string | null, metadata: unknown, chunkCount: number, progress: number, embeddingModel: string | null, subject: string | null, createdAt: string, updatedAt: string };

export type CreateDocumentMutationVariables = Exact<{
  input: CreateDocumentInput;
}>;


export type CreateDocumentMutation = { createDocument: { document: { id: string, name: string, mimeType: string, sizeBytes: number, status: DocumentStatus, error: string | null, metadata: unknown, chunkCount: number, progress: number, embeddingModel: string | null, subject: string | null, createdAt: string, updatedAt: string } } };

export type DocumentQueryVariables = Exact<{
  id: string;
}>;


export type DocumentQuery = { document: { id: string, name: string, mimeType: string, sizeBytes: number, status: DocumentStatus, error: string | null, metadata: unknown, chunkCount: number, progress: number, embeddingModel: string | null, subject: string | null, createdAt: string, updatedAt: string } | null };

export type DocumentsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  status?: DocumentStatus | null | undefined;
}>;


export type DocumentsQuery = { documents: { edges: Array<{ node: { id: string, name: string, mimeType: string, sizeBytes: number, status: DocumentStatus, error: string | null, metadata: unknown, chunkCount: number, progress: number, embeddingModel: string | null, subject: string | null, createdAt: string, updatedAt: string } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean, startCursor: string | null, hasPreviousPage: boolean } } };

export type DeleteDocumentMutationVariables = Exact<{
  id: string;
}>;


export type DeleteDocumentMutation = { deleteDocument: { deletedId: string } };

export type ReprocessDocumentMutationVariables = Exact<{
  id: string;
}>;


export type ReprocessDocumentMutation = { reprocessDocument: { document: { id: string, name: string, mimeType: string, sizeBytes: number, status: DocumentStatus, error: string | null, metadata: unknown, chunkCount: number, progress: number, embeddingModel: string | null, subject: string | null, createdAt: string, updatedAt: string } } };

export type SearchDocumentsQueryVariables = Exact<{
  input: SearchDocumentsInput;
}>;


export type SearchDocumentsQuery = { searchDocuments: Array<{ score: number, content: string, chunkIndex: number, document: { id: string, name: string, mimeType: string, sizeBytes: number, status: DocumentStatus, error: string | null, metadata: unknown, chunkCount: number, progress: number, embeddingModel: string | null, subject: string | null, createdAt: string, updatedAt: string } }> };

export type RunFieldsFragment = { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> };

export type StartRunMutationVariables = Exact<{
  input: StartRunInput;
}>;


export type StartRunMutation = { startRun: { run: { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> } } };

export type RunQueryVariables = Exact<{
  id: string;
}>;


export type RunQuery = { run: { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> } | null };

export type RunsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  status?: RunStatus | null | undefined;
  crewId?: string | null | undefined;
}>;


export type RunsQuery = { runs: { edges: Array<{ node: { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean, startCursor: string | null, hasPreviousPage: boolean } } };

export type CancelRunMutationVariables = Exact<{
  id: string;
}>;


export type CancelRunMutation = { cancelRun: { run: { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> } } };

export type RespondToRunMutationVariables = Exact<{
  input: RespondToRunInput;
}>;


export type RespondToRunMutation = { respondToRun: { run: { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> } } };

export type RetryRunMutationVariables = Exact<{
  id: string;
}>;


export type RetryRunMutation = { retryRun: { run: { id: string, status: RunStatus, crewVersion: number, inputs: unknown, output: string | null, structuredOutput: unknown, error: string | null, errorDetails: unknown, idempotencyKey: string | null, attempts: number, lastSeq: number, createdAt: string, startedAt: string | null, finishedAt: string | null, crew: { id: string, name: string } | null, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number }, taskRuns: Array<{ id: string, status: TaskRunStatus, output: string | null, structuredOutput: unknown, error: string | null, approved: boolean | null, approvalFeedback: string | null, attempts: number, startedAt: string | null, finishedAt: string | null, task: { name: string, agentName: string }, usage: { promptTokens: number, completionTokens: number, totalTokens: number, costUsd: number } }> } } };

export type RunEventsSubscriptionVariables = Exact<{
  runId: string;
  afterSeq?: number | null | undefined;
}>;


export type RunEventsSubscription = { runEvents: { seq: number, type: RunEventType, at: string, taskRunId: string | null, delta: string | null, data: unknown } };

export type CreateSessionTokenMutationVariables = Exact<{
  input: CreateSessionTokenInput;
}>;


export type CreateSessionTokenMutation = { createSessionToken: { token: string, expiresAt: string } };

export type CreateTenantMutationVariables = Exact<{
  input: CreateTenantInput;
}>;


export type CreateTenantMutation = { createTenant: { tenant: { id: string, name: string, createdAt: string }, apiKey: { id: string, name: string, prefix: string, scopes: Array<Scope>, createdAt: string, secret: string } } };

export type ThreadFieldsFragment = { id: string, title: string, concurrency: ThreadConcurrency, historyTokens: number, lastSeq: number, subject: string | null, createdAt: string, updatedAt: string, agent: { id: string, name: string } | null, crew: { id: string, name: string } | null };

export type MessageFieldsFragment = { id: string, role: MessageRole, content: string, createdAt: string, run: { id: string, status: RunStatus } | null };

export type CreateThreadMutationVariables = Exact<{
  input: CreateThreadInput;
}>;


export type CreateThreadMutation = { createThread: { thread: { id: string, title: string, concurrency: ThreadConcurrency, historyTokens: number, lastSeq: number, subject: string | null, createdAt: string, updatedAt: string, agent: { id: string, name: string } | null, crew: { id: string, name: string } | null } } };

export type ThreadQueryVariables = Exact<{
  id: string;
}>;


export type ThreadQuery = { thread: { resumeSeq: number, id: string, title: string, concurrency: ThreadConcurrency, historyTokens: number, lastSeq: number, subject: string | null, createdAt: string, updatedAt: string, agent: { id: string, name: string } | null, crew: { id: string, name: string } | null } | null };

export type ThreadsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  agentId?: string | null | undefined;
  crewId?: string | null | undefined;
}>;


export type ThreadsQuery = { threads: { edges: Array<{ node: { id: string, title: string, concurrency: ThreadConcurrency, historyTokens: number, lastSeq: number, subject: string | null, createdAt: string, updatedAt: string, agent: { id: string, name: string } | null, crew: { id: string, name: string } | null } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean, startCursor: string | null, hasPreviousPage: boolean } } };

export type DeleteThreadMutationVariables = Exact<{
  id: string;
}>;


export type DeleteThreadMutation = { deleteThread: { deletedId: string } };

export type SendMessageMutationVariables = Exact<{
  input: SendMessageInput;
}>;


export type SendMessageMutation = { sendMessage: { message: { id: string, role: MessageRole, content: string, createdAt: string, run: { id: string, status: RunStatus } | null }, run: { id: string, status: RunStatus } } };

export type ThreadMessagesQueryVariables = Exact<{
  id: string;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type ThreadMessagesQuery = { thread: { messages: { edges: Array<{ node: { id: string, role: MessageRole, content: string, createdAt: string, run: { id: string, status: RunStatus } | null } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean, startCursor: string | null, hasPreviousPage: boolean } } } | null };

export type ThreadEventsSubscriptionVariables = Exact<{
  threadId: string;
  afterSeq?: number | null | undefined;
}>;


export type ThreadEventsSubscription = { threadEvents: { seq: number, runId: string, runSeq: number, type: RunEventType, at: string, taskRunId: string | null, delta: string | null, data: unknown } };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { kind: PrincipalKind, scopes: Array<Scope>, subject: string | null, tenant: { id: string, name: string, createdAt: string } | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ApiKeyFieldsFragmentDoc = new TypedDocumentString(`
    fragment ApiKeyFields on ApiKey {
  id
  name
  prefix
  scopes
  createdAt
  lastUsedAt
  revokedAt
}
    `, {"fragmentName":"ApiKeyFields"}) as unknown as TypedDocumentString<ApiKeyFieldsFragment, unknown>;
export const CrewFieldsFragmentDoc = new TypedDocumentString(`
    fragment CrewFields on Crew {
  id
  name
  description
  process
  version
  createdAt
  updatedAt
  manager {
    name
  }
  agents {
    id
    name
    role
    goal
    backstory
    instructions
    tools
    allowDelegation
    maxIterations
    model {
      provider
      name
      temperature
      maxTokens
    }
  }
  tasks {
    id
    name
    description
    expectedOutput
    outputSchema
    requiresApproval
    agent {
      name
    }
    dependsOn {
      name
    }
  }
}
    `, {"fragmentName":"CrewFields"}) as unknown as TypedDocumentString<CrewFieldsFragment, unknown>;
export const DocumentFieldsFragmentDoc = new TypedDocumentString(`
    fragment DocumentFields on Document {
  id
  name
  mimeType
  sizeBytes
  status
  error
  metadata
  chunkCount
  progress
  embeddingModel
  subject
  createdAt
  updatedAt
}
    `, {"fragmentName":"DocumentFields"}) as unknown as TypedDocumentString<DocumentFieldsFragment, unknown>;
export const RunFieldsFragmentDoc = new TypedDocumentString(`
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}
    `, {"fragmentName":"RunFields"}) as unknown as TypedDocumentString<RunFieldsFragment, unknown>;
export const ThreadFieldsFragmentDoc = new TypedDocumentString(`
    fragment ThreadFields on Thread {
  id
  title
  concurrency
  historyTokens
  lastSeq
  subject
  createdAt
  updatedAt
  agent {
    id
    name
  }
  crew {
    id
    name
  }
}
    `, {"fragmentName":"ThreadFields"}) as unknown as TypedDocumentString<ThreadFieldsFragment, unknown>;
export const MessageFieldsFragmentDoc = new TypedDocumentString(`
    fragment MessageFields on Message {
  id
  role
  content
  createdAt
  run {
    id
    status
  }
}
    `, {"fragmentName":"MessageFields"}) as unknown as TypedDocumentString<MessageFieldsFragment, unknown>;
export const ApiKeysDocument = new TypedDocumentString(`
    query ApiKeys {
  apiKeys {
    ...ApiKeyFields
  }
}
    fragment ApiKeyFields on ApiKey {
  id
  name
  prefix
  scopes
  createdAt
  lastUsedAt
  revokedAt
}`) as unknown as TypedDocumentString<ApiKeysQuery, ApiKeysQueryVariables>;
export const CreateApiKeyDocument = new TypedDocumentString(`
    mutation CreateApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    apiKey {
      ...ApiKeyFields
    }
    secret
  }
}
    fragment ApiKeyFields on ApiKey {
  id
  name
  prefix
  scopes
  createdAt
  lastUsedAt
  revokedAt
}`) as unknown as TypedDocumentString<CreateApiKeyMutation, CreateApiKeyMutationVariables>;
export const RevokeApiKeyDocument = new TypedDocumentString(`
    mutation RevokeApiKey($id: ID!) {
  revokeApiKey(id: $id) {
    apiKey {
      ...ApiKeyFields
    }
  }
}
    fragment ApiKeyFields on ApiKey {
  id
  name
  prefix
  scopes
  createdAt
  lastUsedAt
  revokedAt
}`) as unknown as TypedDocumentString<RevokeApiKeyMutation, RevokeApiKeyMutationVariables>;
export const CrewsDocument = new TypedDocumentString(`
    query Crews($first: Int, $after: String) {
  crews(first: $first, after: $after) {
    edges {
      node {
        ...CrewFields
      }
    }
    pageInfo {
      endCursor
      hasNextPage
      startCursor
      hasPreviousPage
    }
  }
}
    fragment CrewFields on Crew {
  id
  name
  description
  process
  version
  createdAt
  updatedAt
  manager {
    name
  }
  agents {
    id
    name
    role
    goal
    backstory
    instructions
    tools
    allowDelegation
    maxIterations
    model {
      provider
      name
      temperature
      maxTokens
    }
  }
  tasks {
    id
    name
    description
    expectedOutput
    outputSchema
    requiresApproval
    agent {
      name
    }
    dependsOn {
      name
    }
  }
}`) as unknown as TypedDocumentString<CrewsQuery, CrewsQueryVariables>;
export const CrewDocument = new TypedDocumentString(`
    query Crew($id: ID!) {
  crew(id: $id) {
    ...CrewFields
  }
}
    fragment CrewFields on Crew {
  id
  name
  description
  process
  version
  createdAt
  updatedAt
  manager {
    name
  }
  agents {
    id
    name
    role
    goal
    backstory
    instructions
    tools
    allowDelegation
    maxIterations
    model {
      provider
      name
      temperature
      maxTokens
    }
  }
  tasks {
    id
    name
    description
    expectedOutput
    outputSchema
    requiresApproval
    agent {
      name
    }
    dependsOn {
      name
    }
  }
}`) as unknown as TypedDocumentString<CrewQuery, CrewQueryVariables>;
export const CreateCrewDocument = new TypedDocumentString(`
    mutation CreateCrew($input: CreateCrewInput!) {
  createCrew(input: $input) {
    crew {
      ...CrewFields
    }
  }
}
    fragment CrewFields on Crew {
  id
  name
  description
  process
  version
  createdAt
  updatedAt
  manager {
    name
  }
  agents {
    id
    name
    role
    goal
    backstory
    instructions
    tools
    allowDelegation
    maxIterations
    model {
      provider
      name
      temperature
      maxTokens
    }
  }
  tasks {
    id
    name
    description
    expectedOutput
    outputSchema
    requiresApproval
    agent {
      name
    }
    dependsOn {
      name
    }
  }
}`) as unknown as TypedDocumentString<CreateCrewMutation, CreateCrewMutationVariables>;
export const UpdateCrewDocument = new TypedDocumentString(`
    mutation UpdateCrew($input: UpdateCrewInput!) {
  updateCrew(input: $input) {
    crew {
      ...CrewFields
    }
  }
}
    fragment CrewFields on Crew {
  id
  name
  description
  process
  version
  createdAt
  updatedAt
  manager {
    name
  }
  agents {
    id
    name
    role
    goal
    backstory
    instructions
    tools
    allowDelegation
    maxIterations
    model {
      provider
      name
      temperature
      maxTokens
    }
  }
  tasks {
    id
    name
    description
    expectedOutput
    outputSchema
    requiresApproval
    agent {
      name
    }
    dependsOn {
      name
    }
  }
}`) as unknown as TypedDocumentString<UpdateCrewMutation, UpdateCrewMutationVariables>;
export const DeleteCrewDocument = new TypedDocumentString(`
    mutation DeleteCrew($id: ID!) {
  deleteCrew(id: $id) {
    deletedId
  }
}
    `) as unknown as TypedDocumentString<DeleteCrewMutation, DeleteCrewMutationVariables>;
export const CreateDocumentDocument = new TypedDocumentString(`
    mutation CreateDocument($input: CreateDocumentInput!) {
  createDocument(input: $input) {
    document {
      ...DocumentFields
    }
  }
}
    fragment DocumentFields on Document {
  id
  name
  mimeType
  sizeBytes
  status
  error
  metadata
  chunkCount
  progress
  embeddingModel
  subject
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<CreateDocumentMutation, CreateDocumentMutationVariables>;
export const DocumentDocument = new TypedDocumentString(`
    query Document($id: ID!) {
  document(id: $id) {
    ...DocumentFields
  }
}
    fragment DocumentFields on Document {
  id
  name
  mimeType
  sizeBytes
  status
  error
  metadata
  chunkCount
  progress
  embeddingModel
  subject
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<DocumentQuery, DocumentQueryVariables>;
export const DocumentsDocument = new TypedDocumentString(`
    query Documents($first: Int, $after: String, $status: DocumentStatus) {
  documents(first: $first, after: $after, status: $status) {
    edges {
      node {
        ...DocumentFields
      }
    }
    pageInfo {
      endCursor
      hasNextPage
      startCursor
      hasPreviousPage
    }
  }
}
    fragment DocumentFields on Document {
  id
  name
  mimeType
  sizeBytes
  status
  error
  metadata
  chunkCount
  progress
  embeddingModel
  subject
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<DocumentsQuery, DocumentsQueryVariables>;
export const DeleteDocumentDocument = new TypedDocumentString(`
    mutation DeleteDocument($id: ID!) {
  deleteDocument(id: $id) {
    deletedId
  }
}
    `) as unknown as TypedDocumentString<DeleteDocumentMutation, DeleteDocumentMutationVariables>;
export const ReprocessDocumentDocument = new TypedDocumentString(`
    mutation ReprocessDocument($id: ID!) {
  reprocessDocument(id: $id) {
    document {
      ...DocumentFields
    }
  }
}
    fragment DocumentFields on Document {
  id
  name
  mimeType
  sizeBytes
  status
  error
  metadata
  chunkCount
  progress
  embeddingModel
  subject
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<ReprocessDocumentMutation, ReprocessDocumentMutationVariables>;
export const SearchDocumentsDocument = new TypedDocumentString(`
    query SearchDocuments($input: SearchDocumentsInput!) {
  searchDocuments(input: $input) {
    score
    content
    chunkIndex
    document {
      ...DocumentFields
    }
  }
}
    fragment DocumentFields on Document {
  id
  name
  mimeType
  sizeBytes
  status
  error
  metadata
  chunkCount
  progress
  embeddingModel
  subject
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<SearchDocumentsQuery, SearchDocumentsQueryVariables>;
export const StartRunDocument = new TypedDocumentString(`
    mutation StartRun($input: StartRunInput!) {
  startRun(input: $input) {
    run {
      ...RunFields
    }
  }
}
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}`) as unknown as TypedDocumentString<StartRunMutation, StartRunMutationVariables>;
export const RunDocument = new TypedDocumentString(`
    query Run($id: ID!) {
  run(id: $id) {
    ...RunFields
  }
}
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}`) as unknown as TypedDocumentString<RunQuery, RunQueryVariables>;
export const RunsDocument = new TypedDocumentString(`
    query Runs($first: Int, $after: String, $status: RunStatus, $crewId: ID) {
  runs(first: $first, after: $after, status: $status, crewId: $crewId) {
    edges {
      node {
        ...RunFields
      }
    }
    pageInfo {
      endCursor
      hasNextPage
      startCursor
      hasPreviousPage
    }
  }
}
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}`) as unknown as TypedDocumentString<RunsQuery, RunsQueryVariables>;
export const CancelRunDocument = new TypedDocumentString(`
    mutation CancelRun($id: ID!) {
  cancelRun(id: $id) {
    run {
      ...RunFields
    }
  }
}
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}`) as unknown as TypedDocumentString<CancelRunMutation, CancelRunMutationVariables>;
export const RespondToRunDocument = new TypedDocumentString(`
    mutation RespondToRun($input: RespondToRunInput!) {
  respondToRun(input: $input) {
    run {
      ...RunFields
    }
  }
}
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}`) as unknown as TypedDocumentString<RespondToRunMutation, RespondToRunMutationVariables>;
export const RetryRunDocument = new TypedDocumentString(`
    mutation RetryRun($id: ID!) {
  retryRun(id: $id) {
    run {
      ...RunFields
    }
  }
}
    fragment RunFields on Run {
  id
  status
  crewVersion
  inputs
  output
  structuredOutput
  error
  errorDetails
  idempotencyKey
  attempts
  lastSeq
  createdAt
  startedAt
  finishedAt
  crew {
    id
    name
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    costUsd
  }
  taskRuns {
    id
    status
    output
    structuredOutput
    error
    approved
    approvalFeedback
    attempts
    startedAt
    finishedAt
    task {
      name
      agentName
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
  }
}`) as unknown as TypedDocumentString<RetryRunMutation, RetryRunMutationVariables>;
export const RunEventsDocument = new TypedDocumentString(`
    subscription RunEvents($runId: ID!, $afterSeq: Int) {
  runEvents(runId: $runId, afterSeq: $afterSeq) {
    seq
    type
    at
    taskRunId
    delta
    data
  }
}
    `) as unknown as TypedDocumentString<RunEventsSubscription, RunEventsSubscriptionVariables>;
export const CreateSessionTokenDocument = new TypedDocumentString(`
    mutation CreateSessionToken($input: CreateSessionTokenInput!) {
  createSessionToken(input: $input) {
    token
    expiresAt
  }
}
    `) as unknown as TypedDocumentString<CreateSessionTokenMutation, CreateSessionTokenMutationVariables>;
export const CreateTenantDocument = new TypedDocumentString(`
    mutation CreateTenant($input: CreateTenantInput!) {
  createTenant(input: $input) {
    tenant {
      id
      name
      createdAt
    }
    apiKey {
      id
      name
      prefix
      scopes
      createdAt
      secret
    }
  }
}
    `) as unknown as TypedDocumentString<CreateTenantMutation, CreateTenantMutationVariables>;
export const CreateThreadDocument = new TypedDocumentString(`
    mutation CreateThread($input: CreateThreadInput!) {
  createThread(input: $input) {
    thread {
      ...ThreadFields
    }
  }
}
    fragment ThreadFields on Thread {
  id
  title
  concurrency
  historyTokens
  lastSeq
  subject
  createdAt
  updatedAt
  agent {
    id
    name
  }
  crew {
    id
    name
  }
}`) as unknown as TypedDocumentString<CreateThreadMutation, CreateThreadMutationVariables>;
export const ThreadDocument = new TypedDocumentString(`
    query Thread($id: ID!) {
  thread(id: $id) {
    ...ThreadFields
    resumeSeq
  }
}
    fragment ThreadFields on Thread {
  id
  title
  concurrency
  historyTokens
  lastSeq
  subject
  createdAt
  updatedAt
  agent {
    id
    name
  }
  crew {
    id
    name
  }
}`) as unknown as TypedDocumentString<ThreadQuery, ThreadQueryVariables>;
export const ThreadsDocument = new TypedDocumentString(`
    query Threads($first: Int, $after: String, $agentId: ID, $crewId: ID) {
  threads(first: $first, after: $after, agentId: $agentId, crewId: $crewId) {
    edges {
      node {
        ...ThreadFields
      }
    }
    pageInfo {
      endCursor
      hasNextPage
      startCursor
      hasPreviousPage
    }
  }
}
    fragment ThreadFields on Thread {
  id
  title
  concurrency
  historyTokens
  lastSeq
  subject
  createdAt
  updatedAt
  agent {
    id
    name
  }
  crew {
    id
    name
  }
}`) as unknown as TypedDocumentString<ThreadsQuery, ThreadsQueryVariables>;
export const DeleteThreadDocument = new TypedDocumentString(`
    mutation DeleteThread($id: ID!) {
  deleteThread(id: $id) {
    deletedId
  }
}
    `) as unknown as TypedDocumentString<DeleteThreadMutation, DeleteThreadMutationVariables>;
export const SendMessageDocument = new TypedDocumentString(`
    mutation SendMessage($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message {
      ...MessageFields
    }
    run {
      id
      status
    }
  }
}
    fragment MessageFields on Message {
  id
  role
  content
  createdAt
  run {
    id
    status
  }
}`) as unknown as TypedDocumentString<SendMessageMutation, SendMessageMutationVariables>;
export const ThreadMessagesDocument = new TypedDocumentString(`
    query ThreadMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  thread(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges {
        node {
          ...MessageFields
        }
      }
      pageInfo {
        endCursor
        hasNextPage
        startCursor
        hasPreviousPage
      }
    }
  }
}
    fragment MessageFields on Message {
  id
  role
  content
  createdAt
  run {
    id
    status
  }
}`) as unknown as TypedDocumentString<ThreadMessagesQuery, ThreadMessagesQueryVariables>;
export const ThreadEventsDocument = new TypedDocumentString(`
    subscription ThreadEvents($threadId: ID!, $afterSeq: Int) {
  threadEvents(threadId: $threadId, afterSeq: $afterSeq) {
    seq
    runId
    runSeq
    type
    at
    taskRunId
    delta
    data
  }
}
    `) as unknown as TypedDocumentString<ThreadEventsSubscription, ThreadEventsSubscriptionVariables>;
export const ViewerDocument = new TypedDocumentString(`
    query Viewer {
  viewer {
    kind
    scopes
    subject
    tenant {
      id
      name
      createdAt
    }
  }
}
    `) as unknown as TypedDocumentString<ViewerQuery, ViewerQueryVariables>;