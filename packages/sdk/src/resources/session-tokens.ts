import { graphql } from '../generated/gql';
import type { CreateSessionTokenInput, CreateSessionTokenMutation } from '../generated/graphql';
import type { RequestOptions, RunDocument } from '../typed-document';

/** A signed, short-lived token for one end user of a host app. */
export type SessionToken = CreateSessionTokenMutation['createSessionToken'];

export interface SessionTokensResource {
  /**
   * Mints a token bound to the caller's tenant and `subject`, with scopes narrowed to at most the
   * key's own (default READ), optionally limited to `threadIds`. Call this on your server, then hand
   * the token to the browser (`getToken`).
   */
  create(input: CreateSessionTokenInput, options?: RequestOptions): Promise<SessionToken>;
}

const CreateSessionTokenDocument = graphql(`
  mutation CreateSessionToken($input: CreateSessionTokenInput!) {
    createSessionToken(input: $input) {
      token
      expiresAt
    }
  }
`);

export function sessionTokensResource(run: RunDocument): SessionTokensResource {
  return {
    async create(input, options) {
      return (await run(CreateSessionTokenDocument, { input }, options)).createSessionToken;
    },
  };
}
