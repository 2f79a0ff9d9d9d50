export type { TroupeClient, TroupeClientOptions } from './client';
export { createTroupeClient } from './client';
export type {
  AgentInput,
  CreateApiKeyInput,
  CreateCrewInput,
  CreateDocumentInput,
  CreateSessionTokenInput,
  CreateTenantInput,
  CreateThreadInput,
  CrewProcess,
  DocumentStatus,
  MessageRole,
  ModelInput,
  ModelProvider,
  PrincipalKind,
  RespondToRunInput,
  RunEventType,
  RunStatus,
  Scope,
  SendMessageInput,
  StartRunInput,
  TaskInput,
  TaskRunStatus,
  ThreadConcurrency,
  UpdateCrewInput,
} from './generated/graphql';
export type { ApiKey, ApiKeysResource, CreatedApiKey } from './resources/api-keys';
export type { Crew, CrewAgent, CrewsResource, CrewTask, ListCrewsOptions } from './resources/crews';
export type {
  Document,
  DocumentSearchHit,
  DocumentsResource,
  ListDocumentsOptions,
  SearchDocumentsOptions,
  UploadData,
  UploadDocumentOptions,
  UploadedDocument,
  UploadProgress,
  WaitUntilReadyOptions,
} from './resources/documents';
export type { Page, PageInfo } from './resources/page';
export type { ListRunsOptions, Run, RunsResource, TaskRun, Usage } from './resources/runs';
export type { SessionToken, SessionTokensResource } from './resources/session-tokens';
export type { CreatedTenant, Tenant, TenantsResource } from './resources/tenants';
export type {
  ListMessagesOptions,
  ListThreadsOptions,
  Message,
  SentMessage,
  Thread,
  ThreadsResource,
  ThreadWithResume,
} from './resources/threads';
export type { Viewer } from './resources/viewer';
export type { ChatMessage, ChatState, StreamingReply } from './streaming/accumulate-chat';
export { accumulateChat, initialChatState } from './streaming/accumulate-chat';
export type {
  PendingApproval,
  RunState,
  RunUsage,
  TaskState,
} from './streaming/accumulate-run';
export { accumulateRun, initialRunState, runStateOf } from './streaming/accumulate-run';
export type { CollectTextOptions, TextEvent } from './streaming/collect-text';
export { collectText } from './streaming/collect-text';
export type {
  RunEvent,
  RunEventDataByType,
  RunEventOf,
  RunUsageTotals,
  ThreadEvent,
} from './streaming/run-event';
export type {
  StreamOptions,
  StreamTransport,
  WebSocketConstructor,
  WebSocketLike,
} from './streaming/stream-context';
export type { RetryOptions } from './transport/retry-policy';
export type { GraphQLErrorPayload, TroupeErrorCode, TroupeErrorOptions } from './troupe-error';
export { isTroupeError, TROUPE_ERROR_CODES, TroupeError } from './troupe-error';
export type { RequestArgs, RequestOptions, ResultOf, TypedDocument, VariablesOf } from './typed-document';
