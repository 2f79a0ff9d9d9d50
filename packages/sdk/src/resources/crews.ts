import { graphql } from '../generated/gql';
import type {
  CreateCrewInput,
  CrewFieldsFragment,
  CrewsQueryVariables,
  UpdateCrewInput,
} from '../generated/graphql';
import { isTroupeError } from '../troupe-error';
import type { RequestOptions, RunDocument } from '../typed-document';
import { type Page, toPage } from './page';

/** A crew with its agents and tasks. */
export type Crew = CrewFieldsFragment;
export type CrewAgent = Crew['agents'][number];
export type CrewTask = Crew['tasks'][number];

export interface ListCrewsOptions {
  /** Page size. */
  first?: number;
  /** `pageInfo.endCursor` of the previous page. */
  after?: string;
}

export interface CrewsResource {
  /** Crews of the caller's tenant, one page at a time. */
  list(variables?: ListCrewsOptions, options?: RequestOptions): Promise<Page<Crew>>;
  /** One crew; null when this caller can see no crew with this id (the server's NOT_FOUND). */
  get(id: string, options?: RequestOptions): Promise<Crew | null>;
  /** Creates a crew with its agents and tasks in one call; nothing is written if any part is invalid. */
  create(input: CreateCrewInput, options?: RequestOptions): Promise<Crew>;
  /** Changes a crew and bumps its version. Agents and tasks, when given, replace the lists. */
  update(input: UpdateCrewInput, options?: RequestOptions): Promise<Crew>;
  /** Deletes a crew with its agents and tasks; resolves to the deleted id. */
  delete(id: string, options?: RequestOptions): Promise<string>;
}

graphql(`
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
`);

const CrewsDocument = graphql(`
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
`);

const CrewDocument = graphql(`
  query Crew($id: ID!) {
    crew(id: $id) {
      ...CrewFields
    }
  }
`);

const CreateCrewDocument = graphql(`
  mutation CreateCrew($input: CreateCrewInput!) {
    createCrew(input: $input) {
      crew {
        ...CrewFields
      }
    }
  }
`);

const UpdateCrewDocument = graphql(`
  mutation UpdateCrew($input: UpdateCrewInput!) {
    updateCrew(input: $input) {
      crew {
        ...CrewFields
      }
    }
  }
`);

const DeleteCrewDocument = graphql(`
  mutation DeleteCrew($id: ID!) {
    deleteCrew(id: $id) {
      deletedId
    }
  }
`);

export function crewsResource(run: RunDocument): CrewsResource {
  return {
    async list(variables, options) {
      const vars: CrewsQueryVariables = { first: variables?.first, after: variables?.after };
      return toPage((await run(CrewsDocument, vars, options)).crews);
    },
    async get(id, options) {
      try {
        return (await run(CrewDocument, { id }, options)).crew;
      } catch (error) {
        if (isTroupeError(error) && error.code === 'NOT_FOUND') return null;
        throw error;
      }
    },
    async create(input, options) {
      return (await run(CreateCrewDocument, { input }, options)).createCrew.crew;
    },
    async update(input, options) {
      return (await run(UpdateCrewDocument, { input }, options)).updateCrew.crew;
    },
    async delete(id, options) {
      return (await run(DeleteCrewDocument, { id }, options)).deleteCrew.deletedId;
    },
  };
}
