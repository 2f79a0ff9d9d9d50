import { describe, expectTypeOf, it } from 'vitest';
import { graphql } from '../src/generated/gql';
import {
  type ApiKey,
  accumulateRun,
  type ChatState,
  type Crew,
  collectText,
  createTroupeClient,
  type Document,
  type DocumentSearchHit,
  initialChatState,
  initialRunState,
  isTroupeError,
  type Message,
  type Page,
  type ResultOf,
  type Run,
  type RunEvent,
  type RunState,
  type Thread,
  type ThreadEvent,
  type TroupeError,
  type TroupeErrorCode,
  type UploadedDocument,
  type UploadProgress,
  type VariablesOf,
  type Viewer,
} from '../src/index';

const client = createTroupeClient({ url: 'http://localhost:4000' });

// Typed documents the way SDK users write them with their own codegen (documentMode 'string').
const CrewNameDocument = graphql(`
  query Crew($id: ID!) {
    crew(id: $id) {
      ...CrewFields
    }
  }
`);
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

describe('typed documents', () => {
  it('infers the result from the document', async () => {
    const data = await client.request(CrewNameDocument, { id: 'Q3Jldzox' });
    expectTypeOf(data).toEqualTypeOf<ResultOf<typeof CrewNameDocument>>();
    expectTypeOf(data.crew).toEqualTypeOf<Crew | null>();
    expectTypeOf<VariablesOf<typeof CrewNameDocument>>().toEqualTypeOf<{ id: string }>();
  });

  it('makes variables optional only when none is required', async () => {
    const data = await client.request(ViewerDocument);
    expectTypeOf(data.viewer.kind).toEqualTypeOf<'ADMIN' | 'API_KEY' | 'SESSION'>();
    // @ts-expect-error the id variable is required
    await client.request(CrewNameDocument);
  });

  it('rejects wrong variables', async () => {
    // @ts-expect-error id must be a string
    await client.request(CrewNameDocument, { id: 1 });
    // @ts-expect-error unknown variable
    await client.request(CrewNameDocument, { id: 'x', first: 1 });
  });

  it('rejects misspelled fields, in results and in documents', async () => {
    const data = await client.request(CrewNameDocument, { id: 'x' });
    // @ts-expect-error no such field
    data.crew?.nmae;
    // @ts-expect-error the generated graphql() only accepts documents known to codegen
    graphql('query { crew(id: "x") { nmae } }');
  });

  it('types untyped text requests by their type argument', async () => {
    expectTypeOf(await client.request<{ n: number }>('query { n }')).toEqualTypeOf<{ n: number }>();
    expectTypeOf(await client.request('query { n }')).toEqualTypeOf<unknown>();
  });
});

describe('resource helpers', () => {
  it('returns typed results', async () => {
    expectTypeOf(await client.viewer()).toEqualTypeOf<Viewer>();
    expectTypeOf(await client.crews.list({ first: 10 })).toEqualTypeOf<Page<Crew>>();
    expectTypeOf(await client.crews.get('x')).toEqualTypeOf<Crew | null>();
    expectTypeOf(await client.crews.delete('x')).toEqualTypeOf<string>();
    expectTypeOf(await client.apiKeys.list()).toEqualTypeOf<ApiKey[]>();
    expectTypeOf(
      (await client.apiKeys.create({ name: 'ci', scopes: ['READ'] })).secret,
    ).toEqualTypeOf<string>();
    expectTypeOf((await client.sessionTokens.create({ subject: 'u' })).token).toEqualTypeOf<string>();
    expectTypeOf((await client.tenants.create({ name: 'Acme' })).apiKey.secret).toEqualTypeOf<string>();
    const crew = (await client.crews.get('x'))!;
    expectTypeOf(crew.process).toEqualTypeOf<'HIERARCHICAL' | 'PARALLEL' | 'SEQUENTIAL'>();
    expectTypeOf(crew.createdAt).toEqualTypeOf<string>();
  });

  it('checks inputs', () => {
    // @ts-expect-error first is a number
    client.crews.list({ first: 'ten' });
    // @ts-expect-error scopes are Scope values
    client.apiKeys.create({ name: 'ci', scopes: ['OWNER'] });
    // @ts-expect-error a crew needs agents and tasks
    client.crews.create({ name: 'x' });
    // @ts-expect-error subject is required
    client.sessionTokens.create({ ttlSeconds: 60 });
  });
});

describe('errors', () => {
  it('narrows with isTroupeError', () => {
    const error: unknown = new Error('x');
    if (isTroupeError(error)) {
      expectTypeOf(error).toEqualTypeOf<TroupeError>();
      expectTypeOf(error.code).toEqualTypeOf<TroupeErrorCode>();
      expectTypeOf(error.field).toEqualTypeOf<string | undefined>();
      expectTypeOf(error.status).toEqualTypeOf<number | undefined>();
    }
    expectTypeOf<TroupeErrorCode>().toEqualTypeOf<
      | 'UNAUTHENTICATED'
      | 'FORBIDDEN'
      | 'NOT_FOUND'
      | 'BAD_INPUT'
      | 'RATE_LIMITED'
      | 'CONFLICT'
      | 'UNAVAILABLE'
      | 'INTERNAL'
    >();
  });
});

describe('documents', () => {
  it('types search hits with their document', async () => {
    const hits = await client.documents.search('otters', { limit: 3 });
    expectTypeOf(hits).toEqualTypeOf<DocumentSearchHit[]>();
    const [hit] = hits;
    expectTypeOf(hit!.score).toEqualTypeOf<number>();
    expectTypeOf(hit!.content).toEqualTypeOf<string>();
    expectTypeOf(hit!.document.name).toEqualTypeOf<string>();
    expectTypeOf(hit!.document.status).toEqualTypeOf<'FAILED' | 'PENDING' | 'PROCESSING' | 'READY'>();
    // @ts-expect-error misspelled field
    hit!.document.nmae;
    // @ts-expect-error limit is a number
    client.documents.search('otters', { limit: '3' });
    // @ts-expect-error the query is a string
    client.documents.search({ query: 'otters' });
  });

  it('types uploads and the other calls', async () => {
    const uploaded = await client.documents.upload(new Blob(['# Hi']), {
      name: 'hi.md',
      metadata: { lang: 'en' },
      onProgress: (progress) => expectTypeOf(progress).toEqualTypeOf<UploadProgress>(),
    });
    expectTypeOf(uploaded).toEqualTypeOf<UploadedDocument>();
    expectTypeOf(uploaded.sizeBytes).toEqualTypeOf<number>();
    // @ts-expect-error the upload answer has no chunks yet: waitUntilReady() has
    uploaded.chunkCount;
    expectTypeOf(await client.documents.waitUntilReady(uploaded.id)).toEqualTypeOf<Document>();
    expectTypeOf(await client.documents.get('d')).toEqualTypeOf<Document | null>();
    expectTypeOf((await client.documents.list({ status: 'READY' })).nodes).toEqualTypeOf<Document[]>();
    expectTypeOf(await client.documents.create({ name: 'a.txt', content: 'x' })).toEqualTypeOf<Document>();
    expectTypeOf(await client.documents.delete('d')).toEqualTypeOf<{ deletedId: string }>();
    // @ts-expect-error status is a DocumentStatus
    client.documents.list({ status: 'DONE' });
    // @ts-expect-error content is required
    client.documents.create({ name: 'a.txt' });
    // @ts-expect-error a number is no upload
    client.documents.upload(42, { name: 'a.txt' });
  });
});

describe('runs and threads', () => {
  it('types the resources', async () => {
    expectTypeOf(await client.runs.start({ crewId: 'c', inputs: { topic: 'x' } })).toEqualTypeOf<Run>();
    expectTypeOf(await client.runs.get('r')).toEqualTypeOf<Run | null>();
    expectTypeOf((await client.runs.list({ status: 'RUNNING' })).nodes).toEqualTypeOf<Run[]>();
    const run = (await client.runs.get('r'))!;
    expectTypeOf(run.status).toEqualTypeOf<
      'CANCELLED' | 'FAILED' | 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'WAITING_FOR_APPROVAL'
    >();
    expectTypeOf(run.taskRuns[0]!.task.name).toEqualTypeOf<string>();
    expectTypeOf(await client.threads.create({ agentId: 'a' })).toEqualTypeOf<Thread>();
    expectTypeOf((await client.threads.messages('t', { last: 5 })).nodes).toEqualTypeOf<Message[]>();
    expectTypeOf(
      (await client.threads.send({ threadId: 't', content: 'hi' })).run.id,
    ).toEqualTypeOf<string>();
    // @ts-expect-error crewId is required
    client.runs.start({ inputs: {} });
    // @ts-expect-error status is a RunStatus
    client.runs.list({ status: 'DONE' });
    // @ts-expect-error approved is a boolean
    client.runs.respond({ runId: 'r', taskRunId: 't', approved: 'yes' });
    // @ts-expect-error content, not text
    client.threads.send({ threadId: 't', text: 'hi' });
    // @ts-expect-error concurrency is REJECT or ENQUEUE
    client.threads.create({ agentId: 'a', concurrency: 'QUEUE' });
    // @ts-expect-error afterSeq is a number
    client.runs.stream('r', { afterSeq: '3' });
  });

  it('discriminates stream events by type', async () => {
    for await (const event of client.runs.stream('r')) {
      expectTypeOf(event).toEqualTypeOf<RunEvent>();
      expectTypeOf(event.seq).toEqualTypeOf<number>();
      if (event.type === 'TOKEN') {
        expectTypeOf(event.delta).toEqualTypeOf<string>();
        expectTypeOf(event.data.taskName).toEqualTypeOf<string>();
        // @ts-expect-error misspelled field
        event.data.taskNmae;
      }
      if (event.type === 'RUN_SUCCEEDED') {
        expectTypeOf(event.data.output).toEqualTypeOf<string>();
        expectTypeOf(event.delta).toEqualTypeOf<null>();
        // @ts-expect-error run-level events carry no task name
        event.data.taskName;
      }
      // @ts-expect-error not an event type
      if (event.type === 'TOKENS') break;
    }
    for await (const event of client.threads.stream('t')) {
      expectTypeOf(event).toEqualTypeOf<ThreadEvent>();
      expectTypeOf(event.runId).toEqualTypeOf<string>();
      if (event.type === 'MESSAGE_CREATED') {
        expectTypeOf(event.data.message.role).toEqualTypeOf<'ASSISTANT' | 'SYSTEM' | 'USER'>();
      }
    }
  });

  it('types the accumulators', async () => {
    for await (const state of client.runs.watch('r')) {
      expectTypeOf(state).toEqualTypeOf<RunState>();
      expectTypeOf(state.textByTask).toEqualTypeOf<Record<string, string>>();
      expectTypeOf(state.output).toEqualTypeOf<string | null>();
    }
    expectTypeOf(accumulateRun(initialRunState, {} as RunEvent)).toEqualTypeOf<RunState>();
    expectTypeOf(await collectText(client.runs.stream('r'))).toEqualTypeOf<string>();
    expectTypeOf<ChatState['status']>().toEqualTypeOf<'idle' | 'running' | 'waiting'>();
    // @ts-expect-error a run event is not a thread event (no runId)
    accumulateChat(initialChatState(), {} as RunEvent);
  });
});
