import { graphql } from '../generated/gql';
import type { CreateTenantInput, CreateTenantMutation } from '../generated/graphql';
import type { RequestOptions, RunDocument } from '../typed-document';

/** A new tenant with its first admin key; the key's secret is shown only here. */
export type CreatedTenant = CreateTenantMutation['createTenant'];
export type Tenant = CreatedTenant['tenant'];

export interface TenantsResource {
  /** Creates a tenant and its first admin API key. Needs the server's admin key. */
  create(input: CreateTenantInput, options?: RequestOptions): Promise<CreatedTenant>;
}

const CreateTenantDocument = graphql(`
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
`);

export function tenantsResource(run: RunDocument): TenantsResource {
  return {
    async create(input, options) {
      return (await run(CreateTenantDocument, { input }, options)).createTenant;
    },
  };
}
