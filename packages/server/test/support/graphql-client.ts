export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; field?: string } }[];
}

/** POSTs one GraphQL operation over real HTTP. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GqlResult<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GqlResult<T>;
  return { ...body, status: res.status };
}

/** Like gql, but fails the test when the response has errors. */
export async function gqlOk<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<T> {
  const r = await gql<T>(url, query, variables, token);
  if (r.errors?.length || !r.data) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
  return r.data;
}

/** Starts a run of `crewId` with `inputs` and returns its id (GraphQL errors throw). */
export async function startRunId(
  url: string,
  token: string,
  crewId: string,
  inputs: Record<string, unknown>,
): Promise<string> {
  const d = await gqlOk(
    url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
    { input: { crewId, inputs } },
    token,
  );
  return d.startRun.run.id as string;
}

export async function createTenant(url: string, adminKey: string, name: string) {
  const d = await gqlOk<{
    createTenant: { tenant: { id: string; name: string }; apiKey: { id: string; secret: string } };
  }>(
    url,
    'mutation($name: String!) { createTenant(input: { name: $name }) { tenant { id name } apiKey { id secret } } }',
    { name },
    adminKey,
  );
  return {
    tenant: d.createTenant.tenant,
    key: d.createTenant.apiKey.secret,
    keyId: d.createTenant.apiKey.id,
  };
}

export const SAMPLE_CREW = {
  name: 'Research crew',
  description: 'Finds and writes',
  process: 'SEQUENTIAL',
  agents: [
    {
      name: 'researcher',
      role: 'Senior researcher',
      goal: 'Find facts',
      backstory: 'Curious',
      model: { provider: 'OPENAI', name: 'gpt-4o-mini' },
    },
    {
      name: 'writer',
      role: 'Writer',
      goal: 'Write clearly',
      backstory: 'Concise',
      model: { provider: 'OLLAMA', name: 'llama3.2' },
    },
  ],
  tasks: [
    { name: 'research', description: 'Research {{topic}}', expectedOutput: 'Notes', agent: 'researcher' },
    {
      name: 'write',
      description: 'Write about {{topic}}',
      expectedOutput: 'An article',
      agent: 'writer',
      dependsOn: ['research'],
    },
  ],
};

export const CREATE_CREW = `mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id name process version agents { id name role model { provider name } } tasks { id name agent { name } dependsOn { name } } } } }`;

/** SAMPLE_CREW with every agent on the OpenAI-compatible test server's model. */
export const OPENAI_CREW = {
  ...SAMPLE_CREW,
  agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: { provider: 'OPENAI', name: 'test-model' } })),
};
