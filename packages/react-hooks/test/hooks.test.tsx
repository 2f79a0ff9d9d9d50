import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { createTroupeClient, type TroupeClient } from '@troupe/sdk';
import { StrictMode, useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TroupeProvider, useCrews, useDocumentSearch, useTroupeClient } from '../src/index';
import { type CrewsServer, crew, crewsPage, type Reply, startCrewsServer } from './crews-server';

let server: CrewsServer | undefined;
afterEach(async () => {
  cleanup();
  await server?.close();
  server = undefined;
});

async function clientFor(reply: Parameters<typeof startCrewsServer>[0]) {
  server = await startCrewsServer(reply);
  return createTroupeClient({ url: server.url, apiKey: 'tk_test', retry: false });
}

function CrewList({ first }: { first?: number }) {
  const { data, error, loading, refetch } = useCrews({ first });
  return (
    <div>
      {loading && <p>loading</p>}
      {error && <p role="alert">error {error.code}</p>}
      <ul>
        {data?.nodes.map((c) => (
          <li key={c.id}>{c.name}</li>
        ))}
      </ul>
      <button type="button" onClick={refetch}>
        refetch
      </button>
    </div>
  );
}

function Probe({ onClient }: { onClient: (client: TroupeClient) => void }) {
  onClient(useTroupeClient());
  return <p>inside</p>;
}

function Orphan() {
  useTroupeClient();
  return null;
}

function Pager() {
  const [first, setFirst] = useState(1);
  return (
    <>
      <button type="button" onClick={() => setFirst(5)}>
        more
      </button>
      <CrewList first={first} />
    </>
  );
}

describe('TroupeProvider', () => {
  it('gives its client to the components below it', () => {
    const client = createTroupeClient({ url: 'http://127.0.0.1:1' });
    let seen: TroupeClient | undefined;
    render(
      <TroupeProvider client={client}>
        <Probe
          onClient={(c) => {
            seen = c;
          }}
        />
      </TroupeProvider>,
    );
    expect(screen.getByText('inside')).toBeTruthy();
    expect(seen).toBe(client);
  });

  it('useTroupeClient throws a clear error outside a provider', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<Orphan />)).toThrow(/inside <TroupeProvider client=\{\.\.\.\}>/);
    spy.mockRestore();
  });
});

describe('useCrews', () => {
  it('loads a page of crews into the DOM', async () => {
    const client = await clientFor(() => ({
      body: crewsPage([crew('c1', 'Research'), crew('c2', 'Support')]),
    }));
    render(
      <TroupeProvider client={client}>
        <CrewList first={2} />
      </TroupeProvider>,
    );
    expect(screen.getByText('loading')).toBeTruthy();
    expect(await screen.findByText('Research')).toBeTruthy();
    expect(screen.getByText('Support')).toBeTruthy();
    expect(screen.queryByText('loading')).toBeNull();
    expect(server!.requests).toHaveLength(1);
    expect(server!.requests[0]!.body.variables).toEqual({ first: 2 });
    expect(server!.requests[0]!.headers.authorization).toBe('Bearer tk_test');
  });

  it('shows the TroupeError code of a failed load', async () => {
    const client = await clientFor(() => ({
      status: 403,
      body: { errors: [{ message: 'Needs scope READ', extensions: { code: 'FORBIDDEN' } }] },
    }));
    render(
      <TroupeProvider client={client}>
        <CrewList />
      </TroupeProvider>,
    );
    expect((await screen.findByRole('alert')).textContent).toBe('error FORBIDDEN');
  });

  it('sends one request under StrictMode', async () => {
    const client = await clientFor(() => ({ body: crewsPage([crew('c1', 'Research')]) }));
    render(
      <StrictMode>
        <TroupeProvider client={client}>
          <CrewList />
        </TroupeProvider>
      </StrictMode>,
    );
    expect(await screen.findByText('Research')).toBeTruthy();
    await new Promise((r) => setTimeout(r, 50));
    expect(server!.requests).toHaveLength(1);
  });

  it('aborts the request in flight when the component unmounts', async () => {
    const client = await clientFor((): Reply => ({ hang: true }));
    const { unmount } = render(
      <TroupeProvider client={client}>
        <CrewList />
      </TroupeProvider>,
    );
    await waitFor(() => expect(server!.requests).toHaveLength(1));
    unmount();
    await waitFor(() => expect(server!.aborted()).toBe(1));
  });

  it('refetches on demand and when its variables change', async () => {
    let name = 'Research';
    const client = await clientFor(() => ({ body: crewsPage([crew('c1', name)]) }));
    render(
      <TroupeProvider client={client}>
        <Pager />
      </TroupeProvider>,
    );
    expect(await screen.findByText('Research')).toBeTruthy();

    name = 'Renamed';
    await act(async () => screen.getByText('refetch').click());
    expect(await screen.findByText('Renamed')).toBeTruthy();

    await act(async () => screen.getByText('more').click());
    await waitFor(() => expect(server!.requests).toHaveLength(3));
    expect(server!.requests.map((r) => r.body.variables)).toEqual([{ first: 1 }, { first: 1 }, { first: 5 }]);
  });
});

function SearchBox() {
  const [query, setQuery] = useState('');
  const { hits } = useDocumentSearch(query, { debounceMs: 10 });
  return (
    <div>
      <input aria-label="query" value={query} onChange={(e) => setQuery(e.currentTarget.value)} />
      <ol aria-label="hits">
        {hits.map((h) => (
          <li key={h.document.id}>{h.document.name}</li>
        ))}
      </ol>
    </div>
  );
}

describe('useDocumentSearch', () => {
  it('drops the answer to a query that changed while it was searched', async () => {
    // The first query is never answered: its request is aborted, and the second query's hits show.
    const client = await clientFor((request): Reply => {
      const query = queryOf(request.body.variables);
      return query === 'slow' ? { hang: true } : { body: { data: { searchDocuments: [hit(query)] } } };
    });
    render(
      <TroupeProvider client={client}>
        <SearchBox />
      </TroupeProvider>,
    );
    const input = screen.getByLabelText('query');
    fireEvent.change(input, { target: { value: 'slow' } });
    await waitFor(() => expect(server!.requests).toHaveLength(1));
    fireEvent.change(input, { target: { value: 'fast' } });
    await waitFor(() => expect(hitNames()).toEqual(['fast.md']));
    await waitFor(() => expect(server!.aborted()).toBe(1));
    expect(server!.requests.map((r) => queryOf(r.body.variables))).toEqual(['slow', 'fast']);
  });
});

const hitNames = () => Array.from(screen.getByLabelText('hits').children).map((li) => li.textContent);

function queryOf(variables: Record<string, unknown> | undefined): string {
  return (variables!.input as { query: string }).query;
}

function hit(query: string) {
  return {
    score: 0.9,
    content: query,
    chunkIndex: 0,
    document: {
      id: `doc-${query}`,
      name: `${query}.md`,
      mimeType: 'text/markdown',
      sizeBytes: 10,
      status: 'READY',
      error: null,
      metadata: {},
      chunkCount: 1,
      progress: 1,
      embeddingModel: null,
      subject: null,
      createdAt: '2026-11-22T00:00:00.000Z',
      updatedAt: '2026-11-22T00:00:00.000Z',
    },
  };
}
