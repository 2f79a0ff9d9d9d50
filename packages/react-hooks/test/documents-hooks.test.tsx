import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { TroupeClient, UploadProgress } from '@troupe/sdk';
import { StrictMode, useState } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TroupeProvider, useDocumentSearch, useDocuments } from '../src/index';
import { tenantClient } from './troupe';

// Against the real server: uploads go through happy-dom's XMLHttpRequest (cross-origin, preflighted).
let client: TroupeClient;
/** The operation names of the GraphQL requests `counted` sent. */
let operations: string[];
let counted: TroupeClient;

const OTTERS = '# Sea otters\n\nSea otters hold hands while they sleep so that they do not drift apart.\n';
const VOLCANOES = '# Volcanoes\n\nA volcano erupts when magma rises; lava flows and ash clouds follow.\n';

beforeAll(async () => {
  client = await tenantClient(`documents-${Math.random()}`);
  operations = [];
  counted = await tenantClient(`documents-search-${Math.random()}`, {
    fetch: (input, init) => {
      operations.push(JSON.parse(String(init?.body)).operationName);
      return fetch(input, init);
    },
  });
  for (const [name, content, topic] of [
    ['otters.md', OTTERS, 'animals'],
    ['volcanoes.md', VOLCANOES, 'geology'],
  ] as const) {
    const created = await counted.documents.create({
      name,
      content,
      mimeType: 'text/markdown',
      metadata: { topic },
    });
    await counted.documents.waitUntilReady(created.id, { timeoutMs: 20_000 });
  }
});
afterEach(() => {
  cleanup();
});

function Library({
  file,
  onProgress,
  signal,
  onUploaded,
}: {
  file: File;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  onUploaded?: (document: unknown) => void;
}) {
  const { documents, uploads, upload, loading, error } = useDocuments({ first: 20 });
  return (
    <div>
      <button
        type="button"
        onClick={() =>
          void upload(file, { ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) }).then(
            onUploaded,
          )
        }
      >
        upload
      </button>
      {loading && <p>loading</p>}
      {error && <p role="alert">{error.code}</p>}
      <ul aria-label="uploads">
        {uploads.map((u) => (
          <li key={u.id}>
            {u.name} {u.status} {u.loaded}/{u.total}
            {u.error ? ` ${u.error.code}` : ''}
          </li>
        ))}
      </ul>
      <ul aria-label="documents">
        {documents.map((d) => (
          <li key={d.id}>
            {d.name} {d.status}
          </li>
        ))}
      </ul>
    </div>
  );
}

const items = (label: string) =>
  Array.from(screen.getByLabelText(label).children).map((li) => li.textContent);

describe('useDocuments', () => {
  it('uploads a file, shows its progress and processing, and the list updates', async () => {
    const file = new File([OTTERS.repeat(50)], 'notes.md', { type: 'text/markdown' });
    const progress: UploadProgress[] = [];
    render(
      <StrictMode>
        <TroupeProvider client={client}>
          <Library file={file} onProgress={(p) => progress.push(p)} />
        </TroupeProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(screen.queryByText('loading')).toBeNull());
    expect(items('documents')).toEqual([]);

    await act(async () => screen.getByText('upload').click());
    expect(items('uploads')[0]).toMatch(
      new RegExp(`^notes.md (uploading|processing|ready) \\d+/${file.size}$`),
    );
    await waitFor(() => expect(items('uploads')).toEqual([`notes.md ready ${file.size}/${file.size}`]), {
      timeout: 20_000,
    });
    await waitFor(() => expect(items('documents')).toEqual(['notes.md READY']));
    expect(progress.at(-1)).toEqual({ loaded: file.size, total: file.size });
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.loaded).toBeGreaterThan(progress[i - 1]!.loaded);
  });

  it('drops an upload its signal aborted; upload() resolves to undefined', async () => {
    const controller = new AbortController();
    const results: unknown[] = [];
    render(
      <TroupeProvider client={client}>
        <Library
          file={new File(['x'.repeat(1024)], 'aborted.txt', { type: 'text/plain' })}
          signal={controller.signal}
          onUploaded={(document) => results.push(document)}
        />
      </TroupeProvider>,
    );
    await act(async () => {
      screen.getByText('upload').click();
      controller.abort();
    });
    await waitFor(() => expect(results).toEqual([undefined]));
    expect(items('uploads')).toEqual([]);
    const { nodes } = await client.documents.list({ first: 50 });
    expect(nodes.map((d) => d.name)).not.toContain('aborted.txt');
  });

  it('shows a failed upload with its TroupeError code', async () => {
    const file = new File([new Uint8Array([1, 2, 3])], 'logo.png', { type: 'image/png' });
    render(
      <TroupeProvider client={client}>
        <Library file={file} />
      </TroupeProvider>,
    );
    await act(async () => screen.getByText('upload').click());
    await waitFor(() => expect(items('uploads')).toEqual(['logo.png failed 0/3 BAD_INPUT']));
  });
});

function Search({ debounceMs, topic }: { debounceMs?: number; topic?: string }) {
  const [query, setQuery] = useState('');
  const { hits, loading, error } = useDocumentSearch(query, {
    limit: 3,
    debounceMs,
    // A new object each render, as an inline option is.
    ...(topic ? { metadata: { topic } } : {}),
  });
  return (
    <div>
      <input aria-label="query" value={query} onChange={(e) => setQuery(e.currentTarget.value)} />
      <p data-testid="state">{loading ? 'searching' : 'idle'}</p>
      {error && <p role="alert">{error.code}</p>}
      <ol aria-label="hits">
        {hits.map((h) => (
          <li key={`${h.document.id}:${h.chunkIndex}`}>{h.document.name}</li>
        ))}
      </ol>
    </div>
  );
}

describe('useDocumentSearch', () => {
  it('shows the hits for a query, searching once for quick typing', async () => {
    render(
      <StrictMode>
        <TroupeProvider client={counted}>
          <Search debounceMs={400} />
        </TroupeProvider>
      </StrictMode>,
    );
    operations.length = 0;
    const input = screen.getByLabelText('query');
    // Typing: a keystroke every 30 ms, each rendered; the search waits for a pause of debounceMs.
    for (const text of ['o', 'ot', 'otters', 'otters hold', 'otters hold hands']) {
      fireEvent.change(input, { target: { value: text } });
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(screen.getByTestId('state').textContent).toBe('searching');
    await waitFor(() => expect(items('hits')[0]).toBe('otters.md'));
    expect(screen.getByTestId('state').textContent).toBe('idle');
    expect(operations).toEqual(['SearchDocuments']);

    fireEvent.change(input, { target: { value: 'lava and magma' } });
    await waitFor(() => expect(items('hits')[0]).toBe('volcanoes.md'));
    expect(operations).toEqual(['SearchDocuments', 'SearchDocuments']);

    // An empty query searches nothing and shows no hits.
    fireEvent.change(input, { target: { value: '  ' } });
    await waitFor(() => expect(items('hits')).toEqual([]));
    await new Promise((r) => setTimeout(r, 600));
    expect(operations).toHaveLength(2);
    expect(screen.getByTestId('state').textContent).toBe('idle');
  });

  it('searches only the documents whose metadata matches, once per query', async () => {
    render(
      <TroupeProvider client={counted}>
        <Search debounceMs={50} topic="geology" />
      </TroupeProvider>,
    );
    operations.length = 0;
    fireEvent.change(screen.getByLabelText('query'), { target: { value: 'otters hold hands' } });
    await waitFor(() => expect(screen.getByTestId('state').textContent).toBe('idle'));
    await waitFor(() => expect(operations).toEqual(['SearchDocuments']));
    expect(items('hits')).not.toContain('otters.md');
    expect(new Set(items('hits'))).toEqual(new Set(['volcanoes.md']));
    await new Promise((r) => setTimeout(r, 200));
    expect(operations).toEqual(['SearchDocuments']);
  });
});
