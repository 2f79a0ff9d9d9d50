import { graphql } from '../generated/gql';
import type { ApiKeyFieldsFragment, CreateApiKeyInput } from '../generated/graphql';
import type { RequestOptions, RunDocument } from '../typed-document';

/** A tenant API key (never its secret). */
export type ApiKey = ApiKeyFieldsFragment;

/** A key just created, with its secret: store it now, it is never shown again. */
export interface CreatedApiKey {
  apiKey: ApiKey;
  secret: string;
}

export interface ApiKeysResource {
  /** The tenant's API keys, newest first, revoked ones included. */
  list(options?: RequestOptions): Promise<ApiKey[]>;
  create(input: CreateApiKeyInput, options?: RequestOptions): Promise<CreatedApiKey>;
  /** Revokes a key at once; session tokens it minted stop working too. Revoking twice is harmless. */
  revoke(id: string, options?: RequestOptions): Promise<ApiKey>;
}

graphql(`
  fragment ApiKeyFields on ApiKey {
    id
    name
    prefix
    scopes
    createdAt
    lastUsedAt
    revokedAt
  }
`);

const ApiKeysDocument = graphql(`
  query ApiKeys {
    apiKeys {
      ...ApiKeyFields
    }
  }
`);

const CreateApiKeyDocument = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      apiKey {
        ...ApiKeyFields
      }
      secret
    }
  }
`);

const RevokeApiKeyDocument = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      apiKey {
        ...ApiKeyFields
      }
    }
  }
`);

export function apiKeysResource(run: RunDocument): ApiKeysResource {
  return {
    async list(options) {
      return (await run(ApiKeysDocument, undefined, options)).apiKeys;
    },
    async create(input, options) {
      return (await run(CreateApiKeyDocument, { input }, options)).createApiKey;
    },
    async revoke(id, options) {
      return (await run(RevokeApiKeyDocument, { id }, options)).revokeApiKey.apiKey;
    },
  };
}
