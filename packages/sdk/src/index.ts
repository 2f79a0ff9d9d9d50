export type { TroupeClient, TroupeClientOptions } from './client';
export { createTroupeClient } from './client';
export type {
  AgentInput,
  CreateApiKeyInput,
  CreateCrewInput,
  CreateSessionTokenInput,
  CreateTenantInput,
  CrewProcess,
  ModelInput,
  ModelProvider,
  PrincipalKind,
  Scope,
  TaskInput,
  UpdateCrewInput,
} from './generated/graphql';
export type { ApiKey, ApiKeysResource, CreatedApiKey } from './resources/api-keys';
export type { Crew, CrewAgent, CrewsResource, CrewTask, ListCrewsOptions } from './resources/crews';
export type { Page, PageInfo } from './resources/page';
export type { SessionToken, SessionTokensResource } from './resources/session-tokens';
export type { CreatedTenant, Tenant, TenantsResource } from './resources/tenants';
export type { Viewer } from './resources/viewer';
export type { RetryOptions } from './transport/retry-policy';
export type { GraphQLErrorPayload, TroupeErrorCode, TroupeErrorOptions } from './troupe-error';
export { isTroupeError, TROUPE_ERROR_CODES, TroupeError } from './troupe-error';
export type { RequestArgs, RequestOptions, ResultOf, TypedDocument, VariablesOf } from './typed-document';
