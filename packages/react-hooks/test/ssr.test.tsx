// @vitest-environment node
import { createTroupeClient } from '@troupe/sdk';
import { renderToString } from 'react-dom/server';
import { afterEach, describe, expect, it } from 'vitest';
import { TroupeProvider, useChat, useCrews, useDocumentSearch, useDocuments, useRun } from '../src/index';
import { type CrewsServer, crew, crewsPage, startCrewsServer } from './crews-server';

let server: CrewsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function CrewCount() {
  const { data, loading } = useCrews({ first: 10 });
  return <p>{loading ? 'loading' : `${data?.nodes.length} crews`}</p>;
}

function Streams() {
  const run = useRun('UnVuOjE=');
  const chat = useChat('VGhyZWFkOjE=');
  return (
    <p>
      {run.status} {run.events.length} {chat.status} {chat.messages.length}
    </p>
  );
}

function Documents() {
  const { documents, loading, uploads } = useDocuments({ first: 5 });
  const search = useDocumentSearch('otters');
  const idle = useDocumentSearch('');
  return (
    <p>
      {loading ? 'loading' : documents.length} {uploads.length} {search.loading ? 'searching' : 'idle'}{' '}
      {search.hits.length} {idle.loading ? 'searching' : 'idle'}
    </p>
  );
}

describe('server rendering', () => {
  it('renders the loading state without a window and without sending a request', async () => {
    expect(typeof window).toBe('undefined');
    server = await startCrewsServer(() => ({ body: crewsPage([crew('c1', 'Research')]) }));
    const client = createTroupeClient({ url: server.url });
    const html = renderToString(
      <TroupeProvider client={client}>
        <CrewCount />
      </TroupeProvider>,
    );
    expect(html).toBe('<p>loading</p>');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.requests).toHaveLength(0);
  });

  it('renders useRun and useChat initial states without streaming or loading anything', async () => {
    server = await startCrewsServer(() => ({ body: { data: null } }));
    const client = createTroupeClient({ url: server.url, streamTransport: 'sse' });
    const html = renderToString(
      <TroupeProvider client={client}>
        <Streams />
      </TroupeProvider>,
    );
    expect(html).toBe('<p>QUEUED<!-- --> <!-- -->0<!-- --> <!-- -->loading<!-- --> <!-- -->0</p>');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.requests).toHaveLength(0);
  });

  it('renders useDocuments and useDocumentSearch loading without a request', async () => {
    server = await startCrewsServer(() => ({ body: { data: null } }));
    const client = createTroupeClient({ url: server.url });
    const html = renderToString(
      <TroupeProvider client={client}>
        <Documents />
      </TroupeProvider>,
    );
    expect(html).toBe(
      '<p>loading<!-- --> <!-- -->0<!-- --> <!-- -->searching<!-- --> <!-- -->0<!-- --> <!-- -->idle</p>',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests).toHaveLength(0);
  });
});
