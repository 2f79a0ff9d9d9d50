/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    scopes\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n": typeof types.ApiKeyFieldsFragmentDoc,
    "\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n": typeof types.ApiKeysDocument,
    "\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      apiKey {\n        ...ApiKeyFields\n      }\n      secret\n    }\n  }\n": typeof types.CreateApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n": typeof types.RevokeApiKeyDocument,
    "\n  fragment CrewFields on Crew {\n    id\n    name\n    description\n    process\n    version\n    createdAt\n    updatedAt\n    manager {\n      name\n    }\n    agents {\n      id\n      name\n      role\n      goal\n      backstory\n      instructions\n      tools\n      allowDelegation\n      maxIterations\n      model {\n        provider\n        name\n        temperature\n        maxTokens\n      }\n    }\n    tasks {\n      id\n      name\n      description\n      expectedOutput\n      outputSchema\n      requiresApproval\n      agent {\n        name\n      }\n      dependsOn {\n        name\n      }\n    }\n  }\n": typeof types.CrewFieldsFragmentDoc,
    "\n  query Crews($first: Int, $after: String) {\n    crews(first: $first, after: $after) {\n      edges {\n        node {\n          ...CrewFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": typeof types.CrewsDocument,
    "\n  query Crew($id: ID!) {\n    crew(id: $id) {\n      ...CrewFields\n    }\n  }\n": typeof types.CrewDocument,
    "\n  mutation CreateCrew($input: CreateCrewInput!) {\n    createCrew(input: $input) {\n      crew {\n        ...CrewFields\n      }\n    }\n  }\n": typeof types.CreateCrewDocument,
    "\n  mutation UpdateCrew($input: UpdateCrewInput!) {\n    updateCrew(input: $input) {\n      crew {\n        ...CrewFields\n      }\n    }\n  }\n": typeof types.UpdateCrewDocument,
    "\n  mutation DeleteCrew($id: ID!) {\n    deleteCrew(id: $id) {\n      deletedId\n    }\n  }\n": typeof types.DeleteCrewDocument,
    "\n  fragment DocumentFields on Document {\n    id\n    name\n    mimeType\n    sizeBytes\n    status\n    error\n    metadata\n    chunkCount\n    progress\n    embeddingModel\n    subject\n    createdAt\n    updatedAt\n  }\n": typeof types.DocumentFieldsFragmentDoc,
    "\n  mutation CreateDocument($input: CreateDocumentInput!) {\n    createDocument(input: $input) {\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n": typeof types.CreateDocumentDocument,
    "\n  query Document($id: ID!) {\n    document(id: $id) {\n      ...DocumentFields\n    }\n  }\n": typeof types.DocumentDocument,
    "\n  query Documents($first: Int, $after: String, $status: DocumentStatus) {\n    documents(first: $first, after: $after, status: $status) {\n      edges {\n        node {\n          ...DocumentFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": typeof types.DocumentsDocument,
    "\n  mutation DeleteDocument($id: ID!) {\n    deleteDocument(id: $id) {\n      deletedId\n    }\n  }\n": typeof types.DeleteDocumentDocument,
    "\n  mutation ReprocessDocument($id: ID!) {\n    reprocessDocument(id: $id) {\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n": typeof types.ReprocessDocumentDocument,
    "\n  query SearchDocuments($input: SearchDocumentsInput!) {\n    searchDocuments(input: $input) {\n      score\n      content\n      chunkIndex\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n": typeof types.SearchDocumentsDocument,
    "\n  fragment RunFields on Run {\n    id\n    status\n    crewVersion\n    inputs\n    output\n    structuredOutput\n    error\n    errorDetails\n    idempotencyKey\n    attempts\n    lastSeq\n    createdAt\n    startedAt\n    finishedAt\n    crew {\n      id\n      name\n    }\n    usage {\n      promptTokens\n      completionTokens\n      totalTokens\n      costUsd\n    }\n    taskRuns {\n      id\n      status\n      output\n      structuredOutput\n      error\n      approved\n      approvalFeedback\n      attempts\n      startedAt\n      finishedAt\n      task {\n        name\n        agentName\n      }\n      usage {\n        promptTokens\n        completionTokens\n        totalTokens\n        costUsd\n      }\n    }\n  }\n": typeof types.RunFieldsFragmentDoc,
    "\n  mutation StartRun($input: StartRunInput!) {\n    startRun(input: $input) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": typeof types.StartRunDocument,
    "\n  query Run($id: ID!) {\n    run(id: $id) {\n      ...RunFields\n    }\n  }\n": typeof types.RunDocument,
    "\n  query Runs($first: Int, $after: String, $status: RunStatus, $crewId: ID) {\n    runs(first: $first, after: $after, status: $status, crewId: $crewId) {\n      edges {\n        node {\n          ...RunFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": typeof types.RunsDocument,
    "\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": typeof types.CancelRunDocument,
    "\n  mutation RespondToRun($input: RespondToRunInput!) {\n    respondToRun(input: $input) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": typeof types.RespondToRunDocument,
    "\n  mutation RetryRun($id: ID!) {\n    retryRun(id: $id) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": typeof types.RetryRunDocument,
    "\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq\n      type\n      at\n      taskRunId\n      delta\n      data\n    }\n  }\n": typeof types.RunEventsDocument,
    "\n  mutation CreateSessionToken($input: CreateSessionTokenInput!) {\n    createSessionToken(input: $input) {\n      token\n      expiresAt\n    }\n  }\n": typeof types.CreateSessionTokenDocument,
    "\n  mutation CreateTenant($input: CreateTenantInput!) {\n    createTenant(input: $input) {\n      tenant {\n        id\n        name\n        createdAt\n      }\n      apiKey {\n        id\n        name\n        prefix\n        scopes\n        createdAt\n        secret\n      }\n    }\n  }\n": typeof types.CreateTenantDocument,
    "\n  fragment ThreadFields on Thread {\n    id\n    title\n    concurrency\n    historyTokens\n    lastSeq\n    subject\n    createdAt\n    updatedAt\n    agent {\n      id\n      name\n    }\n    crew {\n      id\n      name\n    }\n  }\n": typeof types.ThreadFieldsFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    createdAt\n    run {\n      id\n      status\n    }\n  }\n": typeof types.MessageFieldsFragmentDoc,
    "\n  mutation CreateThread($input: CreateThreadInput!) {\n    createThread(input: $input) {\n      thread {\n        ...ThreadFields\n      }\n    }\n  }\n": typeof types.CreateThreadDocument,
    "\n  query Thread($id: ID!) {\n    thread(id: $id) {\n      ...ThreadFields\n      resumeSeq\n    }\n  }\n": typeof types.ThreadDocument,
    "\n  query Threads($first: Int, $after: String, $agentId: ID, $crewId: ID) {\n    threads(first: $first, after: $after, agentId: $agentId, crewId: $crewId) {\n      edges {\n        node {\n          ...ThreadFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": typeof types.ThreadsDocument,
    "\n  mutation DeleteThread($id: ID!) {\n    deleteThread(id: $id) {\n      deletedId\n    }\n  }\n": typeof types.DeleteThreadDocument,
    "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      message {\n        ...MessageFields\n      }\n      run {\n        id\n        status\n      }\n    }\n  }\n": typeof types.SendMessageDocument,
    "\n  query ThreadMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    thread(id: $id) {\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          node {\n            ...MessageFields\n          }\n        }\n        pageInfo {\n          endCursor\n          hasNextPage\n          startCursor\n          hasPreviousPage\n        }\n      }\n    }\n  }\n": typeof types.ThreadMessagesDocument,
    "\n  subscription ThreadEvents($threadId: ID!, $afterSeq: Int) {\n    threadEvents(threadId: $threadId, afterSeq: $afterSeq) {\n      seq\n      runId\n      runSeq\n      type\n      at\n      taskRunId\n      delta\n      data\n    }\n  }\n": typeof types.ThreadEventsDocument,
    "\n  query Viewer {\n    viewer {\n      kind\n      scopes\n      subject\n      tenant {\n        id\n        name\n        createdAt\n      }\n    }\n  }\n": typeof types.ViewerDocument,
};
const documents: Documents = {
    "\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    scopes\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n": types.ApiKeyFieldsFragmentDoc,
    "\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n": types.ApiKeysDocument,
    "\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      apiKey {\n        ...ApiKeyFields\n      }\n      secret\n    }\n  }\n": types.CreateApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n": types.RevokeApiKeyDocument,
    "\n  fragment CrewFields on Crew {\n    id\n    name\n    description\n    process\n    version\n    createdAt\n    updatedAt\n    manager {\n      name\n    }\n    agents {\n      id\n      name\n      role\n      goal\n      backstory\n      instructions\n      tools\n      allowDelegation\n      maxIterations\n      model {\n        provider\n        name\n        temperature\n        maxTokens\n      }\n    }\n    tasks {\n      id\n      name\n      description\n      expectedOutput\n      outputSchema\n      requiresApproval\n      agent {\n        name\n      }\n      dependsOn {\n        name\n      }\n    }\n  }\n": types.CrewFieldsFragmentDoc,
    "\n  query Crews($first: Int, $after: String) {\n    crews(first: $first, after: $after) {\n      edges {\n        node {\n          ...CrewFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": types.CrewsDocument,
    "\n  query Crew($id: ID!) {\n    crew(id: $id) {\n      ...CrewFields\n    }\n  }\n": types.CrewDocument,
    "\n  mutation CreateCrew($input: CreateCrewInput!) {\n    createCrew(input: $input) {\n      crew {\n        ...CrewFields\n      }\n    }\n  }\n": types.CreateCrewDocument,
    "\n  mutation UpdateCrew($input: UpdateCrewInput!) {\n    updateCrew(input: $input) {\n      crew {\n        ...CrewFields\n      }\n    }\n  }\n": types.UpdateCrewDocument,
    "\n  mutation DeleteCrew($id: ID!) {\n    deleteCrew(id: $id) {\n      deletedId\n    }\n  }\n": types.DeleteCrewDocument,
    "\n  fragment DocumentFields on Document {\n    id\n    name\n    mimeType\n    sizeBytes\n    status\n    error\n    metadata\n    chunkCount\n    progress\n    embeddingModel\n    subject\n    createdAt\n    updatedAt\n  }\n": types.DocumentFieldsFragmentDoc,
    "\n  mutation CreateDocument($input: CreateDocumentInput!) {\n    createDocument(input: $input) {\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n": types.CreateDocumentDocument,
    "\n  query Document($id: ID!) {\n    document(id: $id) {\n      ...DocumentFields\n    }\n  }\n": types.DocumentDocument,
    "\n  query Documents($first: Int, $after: String, $status: DocumentStatus) {\n    documents(first: $first, after: $after, status: $status) {\n      edges {\n        node {\n          ...DocumentFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": types.DocumentsDocument,
    "\n  mutation DeleteDocument($id: ID!) {\n    deleteDocument(id: $id) {\n      deletedId\n    }\n  }\n": types.DeleteDocumentDocument,
    "\n  mutation ReprocessDocument($id: ID!) {\n    reprocessDocument(id: $id) {\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n": types.ReprocessDocumentDocument,
    "\n  query SearchDocuments($input: SearchDocumentsInput!) {\n    searchDocuments(input: $input) {\n      score\n      content\n      chunkIndex\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n": types.SearchDocumentsDocument,
    "\n  fragment RunFields on Run {\n    id\n    status\n    crewVersion\n    inputs\n    output\n    structuredOutput\n    error\n    errorDetails\n    idempotencyKey\n    attempts\n    lastSeq\n    createdAt\n    startedAt\n    finishedAt\n    crew {\n      id\n      name\n    }\n    usage {\n      promptTokens\n      completionTokens\n      totalTokens\n      costUsd\n    }\n    taskRuns {\n      id\n      status\n      output\n      structuredOutput\n      error\n      approved\n      approvalFeedback\n      attempts\n      startedAt\n      finishedAt\n      task {\n        name\n        agentName\n      }\n      usage {\n        promptTokens\n        completionTokens\n        totalTokens\n        costUsd\n      }\n    }\n  }\n": types.RunFieldsFragmentDoc,
    "\n  mutation StartRun($input: StartRunInput!) {\n    startRun(input: $input) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": types.StartRunDocument,
    "\n  query Run($id: ID!) {\n    run(id: $id) {\n      ...RunFields\n    }\n  }\n": types.RunDocument,
    "\n  query Runs($first: Int, $after: String, $status: RunStatus, $crewId: ID) {\n    runs(first: $first, after: $after, status: $status, crewId: $crewId) {\n      edges {\n        node {\n          ...RunFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": types.RunsDocument,
    "\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": types.CancelRunDocument,
    "\n  mutation RespondToRun($input: RespondToRunInput!) {\n    respondToRun(input: $input) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": types.RespondToRunDocument,
    "\n  mutation RetryRun($id: ID!) {\n    retryRun(id: $id) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n": types.RetryRunDocument,
    "\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq\n      type\n      at\n      taskRunId\n      delta\n      data\n    }\n  }\n": types.RunEventsDocument,
    "\n  mutation CreateSessionToken($input: CreateSessionTokenInput!) {\n    createSessionToken(input: $input) {\n      token\n      expiresAt\n    }\n  }\n": types.CreateSessionTokenDocument,
    "\n  mutation CreateTenant($input: CreateTenantInput!) {\n    createTenant(input: $input) {\n      tenant {\n        id\n        name\n        createdAt\n      }\n      apiKey {\n        id\n        name\n        prefix\n        scopes\n        createdAt\n        secret\n      }\n    }\n  }\n": types.CreateTenantDocument,
    "\n  fragment ThreadFields on Thread {\n    id\n    title\n    concurrency\n    historyTokens\n    lastSeq\n    subject\n    createdAt\n    updatedAt\n    agent {\n      id\n      name\n    }\n    crew {\n      id\n      name\n    }\n  }\n": types.ThreadFieldsFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    createdAt\n    run {\n      id\n      status\n    }\n  }\n": types.MessageFieldsFragmentDoc,
    "\n  mutation CreateThread($input: CreateThreadInput!) {\n    createThread(input: $input) {\n      thread {\n        ...ThreadFields\n      }\n    }\n  }\n": types.CreateThreadDocument,
    "\n  query Thread($id: ID!) {\n    thread(id: $id) {\n      ...ThreadFields\n      resumeSeq\n    }\n  }\n": types.ThreadDocument,
    "\n  query Threads($first: Int, $after: String, $agentId: ID, $crewId: ID) {\n    threads(first: $first, after: $after, agentId: $agentId, crewId: $crewId) {\n      edges {\n        node {\n          ...ThreadFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n": types.ThreadsDocument,
    "\n  mutation DeleteThread($id: ID!) {\n    deleteThread(id: $id) {\n      deletedId\n    }\n  }\n": types.DeleteThreadDocument,
    "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      message {\n        ...MessageFields\n      }\n      run {\n        id\n        status\n      }\n    }\n  }\n": types.SendMessageDocument,
    "\n  query ThreadMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    thread(id: $id) {\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          node {\n            ...MessageFields\n          }\n        }\n        pageInfo {\n          endCursor\n          hasNextPage\n          startCursor\n          hasPreviousPage\n        }\n      }\n    }\n  }\n": types.ThreadMessagesDocument,
    "\n  subscription ThreadEvents($threadId: ID!, $afterSeq: Int) {\n    threadEvents(threadId: $threadId, afterSeq: $afterSeq) {\n      seq\n      runId\n      runSeq\n      type\n      at\n      taskRunId\n      delta\n      data\n    }\n  }\n": types.ThreadEventsDocument,
    "\n  query Viewer {\n    viewer {\n      kind\n      scopes\n      subject\n      tenant {\n        id\n        name\n        createdAt\n      }\n    }\n  }\n": types.ViewerDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ApiKeyFields on ApiKey {\n    id\n    name\n    prefix\n    scopes\n    createdAt\n    lastUsedAt\n    revokedAt\n  }\n"): typeof import('./graphql').ApiKeyFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeys {\n    apiKeys {\n      ...ApiKeyFields\n    }\n  }\n"): typeof import('./graphql').ApiKeysDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiKey($input: CreateApiKeyInput!) {\n    createApiKey(input: $input) {\n      apiKey {\n        ...ApiKeyFields\n      }\n      secret\n    }\n  }\n"): typeof import('./graphql').CreateApiKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      apiKey {\n        ...ApiKeyFields\n      }\n    }\n  }\n"): typeof import('./graphql').RevokeApiKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment CrewFields on Crew {\n    id\n    name\n    description\n    process\n    version\n    createdAt\n    updatedAt\n    manager {\n      name\n    }\n    agents {\n      id\n      name\n      role\n      goal\n      backstory\n      instructions\n      tools\n      allowDelegation\n      maxIterations\n      model {\n        provider\n        name\n        temperature\n        maxTokens\n      }\n    }\n    tasks {\n      id\n      name\n      description\n      expectedOutput\n      outputSchema\n      requiresApproval\n      agent {\n        name\n      }\n      dependsOn {\n        name\n      }\n    }\n  }\n"): typeof import('./graphql').CrewFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Crews($first: Int, $after: String) {\n    crews(first: $first, after: $after) {\n      edges {\n        node {\n          ...CrewFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n"): typeof import('./graphql').CrewsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Crew($id: ID!) {\n    crew(id: $id) {\n      ...CrewFields\n    }\n  }\n"): typeof import('./graphql').CrewDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateCrew($input: CreateCrewInput!) {\n    createCrew(input: $input) {\n      crew {\n        ...CrewFields\n      }\n    }\n  }\n"): typeof import('./graphql').CreateCrewDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateCrew($input: UpdateCrewInput!) {\n    updateCrew(input: $input) {\n      crew {\n        ...CrewFields\n      }\n    }\n  }\n"): typeof import('./graphql').UpdateCrewDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteCrew($id: ID!) {\n    deleteCrew(id: $id) {\n      deletedId\n    }\n  }\n"): typeof import('./graphql').DeleteCrewDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment DocumentFields on Document {\n    id\n    name\n    mimeType\n    sizeBytes\n    status\n    error\n    metadata\n    chunkCount\n    progress\n    embeddingModel\n    subject\n    createdAt\n    updatedAt\n  }\n"): typeof import('./graphql').DocumentFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateDocument($input: CreateDocumentInput!) {\n    createDocument(input: $input) {\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n"): typeof import('./graphql').CreateDocumentDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Document($id: ID!) {\n    document(id: $id) {\n      ...DocumentFields\n    }\n  }\n"): typeof import('./graphql').DocumentDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Documents($first: Int, $after: String, $status: DocumentStatus) {\n    documents(first: $first, after: $after, status: $status) {\n      edges {\n        node {\n          ...DocumentFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n"): typeof import('./graphql').DocumentsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteDocument($id: ID!) {\n    deleteDocument(id: $id) {\n      deletedId\n    }\n  }\n"): typeof import('./graphql').DeleteDocumentDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ReprocessDocument($id: ID!) {\n    reprocessDocument(id: $id) {\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n"): typeof import('./graphql').ReprocessDocumentDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SearchDocuments($input: SearchDocumentsInput!) {\n    searchDocuments(input: $input) {\n      score\n      content\n      chunkIndex\n      document {\n        ...DocumentFields\n      }\n    }\n  }\n"): typeof import('./graphql').SearchDocumentsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment RunFields on Run {\n    id\n    status\n    crewVersion\n    inputs\n    output\n    structuredOutput\n    error\n    errorDetails\n    idempotencyKey\n    attempts\n    lastSeq\n    createdAt\n    startedAt\n    finishedAt\n    crew {\n      id\n      name\n    }\n    usage {\n      promptTokens\n      completionTokens\n      totalTokens\n      costUsd\n    }\n    taskRuns {\n      id\n      status\n      output\n      structuredOutput\n      error\n      approved\n      approvalFeedback\n      attempts\n      startedAt\n      finishedAt\n      task {\n        name\n        agentName\n      }\n      usage {\n        promptTokens\n        completionTokens\n        totalTokens\n        costUsd\n      }\n    }\n  }\n"): typeof import('./graphql').RunFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartRun($input: StartRunInput!) {\n    startRun(input: $input) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n"): typeof import('./graphql').StartRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Run($id: ID!) {\n    run(id: $id) {\n      ...RunFields\n    }\n  }\n"): typeof import('./graphql').RunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Runs($first: Int, $after: String, $status: RunStatus, $crewId: ID) {\n    runs(first: $first, after: $after, status: $status, crewId: $crewId) {\n      edges {\n        node {\n          ...RunFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n"): typeof import('./graphql').RunsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n"): typeof import('./graphql').CancelRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RespondToRun($input: RespondToRunInput!) {\n    respondToRun(input: $input) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n"): typeof import('./graphql').RespondToRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RetryRun($id: ID!) {\n    retryRun(id: $id) {\n      run {\n        ...RunFields\n      }\n    }\n  }\n"): typeof import('./graphql').RetryRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq\n      type\n      at\n      taskRunId\n      delta\n      data\n    }\n  }\n"): typeof import('./graphql').RunEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateSessionToken($input: CreateSessionTokenInput!) {\n    createSessionToken(input: $input) {\n      token\n      expiresAt\n    }\n  }\n"): typeof import('./graphql').CreateSessionTokenDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTenant($input: CreateTenantInput!) {\n    createTenant(input: $input) {\n      tenant {\n        id\n        name\n        createdAt\n      }\n      apiKey {\n        id\n        name\n        prefix\n        scopes\n        createdAt\n        secret\n      }\n    }\n  }\n"): typeof import('./graphql').CreateTenantDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ThreadFields on Thread {\n    id\n    title\n    concurrency\n    historyTokens\n    lastSeq\n    subject\n    createdAt\n    updatedAt\n    agent {\n      id\n      name\n    }\n    crew {\n      id\n      name\n    }\n  }\n"): typeof import('./graphql').ThreadFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment MessageFields on Message {\n    id\n    role\n    content\n    createdAt\n    run {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').MessageFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateThread($input: CreateThreadInput!) {\n    createThread(input: $input) {\n      thread {\n        ...ThreadFields\n      }\n    }\n  }\n"): typeof import('./graphql').CreateThreadDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Thread($id: ID!) {\n    thread(id: $id) {\n      ...ThreadFields\n      resumeSeq\n    }\n  }\n"): typeof import('./graphql').ThreadDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Threads($first: Int, $after: String, $agentId: ID, $crewId: ID) {\n    threads(first: $first, after: $after, agentId: $agentId, crewId: $crewId) {\n      edges {\n        node {\n          ...ThreadFields\n        }\n      }\n      pageInfo {\n        endCursor\n        hasNextPage\n        startCursor\n        hasPreviousPage\n      }\n    }\n  }\n"): typeof import('./graphql').ThreadsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteThread($id: ID!) {\n    deleteThread(id: $id) {\n      deletedId\n    }\n  }\n"): typeof import('./graphql').DeleteThreadDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      message {\n        ...MessageFields\n      }\n      run {\n        id\n        status\n      }\n    }\n  }\n"): typeof import('./graphql').SendMessageDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ThreadMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    thread(id: $id) {\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          node {\n            ...MessageFields\n          }\n        }\n        pageInfo {\n          endCursor\n          hasNextPage\n          startCursor\n          hasPreviousPage\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').ThreadMessagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ThreadEvents($threadId: ID!, $afterSeq: Int) {\n    threadEvents(threadId: $threadId, afterSeq: $afterSeq) {\n      seq\n      runId\n      runSeq\n      type\n      at\n      taskRunId\n      delta\n      data\n    }\n  }\n"): typeof import('./graphql').ThreadEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer {\n      kind\n      scopes\n      subject\n      tenant {\n        id\n        name\n        createdAt\n      }\n    }\n  }\n"): typeof import('./graphql').ViewerDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
