import { graphql } from '../generated/gql';
import type { ViewerQuery } from '../generated/graphql';
import type { RequestOptions, RunDocument } from '../typed-document';

/** Who is calling: principal kind, effective scopes, tenant, and subject for session tokens. */
export type Viewer = ViewerQuery['viewer'];

const ViewerDocument = graphql(`
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
`);

export function viewerResource(run: RunDocument) {
  return async (options?: RequestOptions): Promise<Viewer> =>
    (await run(ViewerDocument, undefined, options)).viewer;
}
