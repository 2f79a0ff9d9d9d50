import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { TroupeClient } from '@troupe/sdk';
import { StrictMode, useState } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy } from '../../sdk/test/support/tcp-proxy';
import { TroupeProvider, useChat, useRun, useStartRun } from '../src/index';
import { FAILS_ONCE, REFUSED, SLOW } from './test-model';
import {
  CREW,
  holdAnswers,
  sameTenantClient,
  serverUrl,
  subscribers,
  tenantClient,
  WRITE_TEXT,
  waitForSubscribers,
} from './troupe';

let client: TroupeClient;
let crewId: string;
let agentId: string;

beforeAll(async () => {
  client = await tenantClient(`hooks-${Math.random()}`);
  const crew = await client.crews.create(CREW);
  crewId = crew.id;
  agentId = crew.agents.find((a) => a.name === 'writer')!.id;
});
afterEach(async () => {
  cleanup();
  await waitForSubscribers(0);
});

function RunView({ runId }: { runId: string }) {
  const { status, textByTask, output, usage, events, error, cancel, retry } = useRun(runId);
  return (
    <div>
      <p data-testid="status">{status}</p>
      <p data-testid="write">{textByTask.write ?? ''}</p>
      <p data-testid="output">{output ?? ''}</p>
      <p data-testid="tokens">{usage.totalTokens}</p>
      <p data-testid="events">{events.length}</p>
      {error && <p role="alert">{error.code}</p>}
      <button type="button" onClick={() => void cancel()}>
        cancel
      </button>
      <button type="button" onClick={() => void retry()}>
        retry
      </button>
    </div>
  );
}

const text = (id: string) => screen.getByTestId(id).textContent;

function withClient(node: React.ReactNode, strict = false) {
  const tree = <TroupeProvider client={client}>{node}</TroupeProvider>;
  return render(strict ? <StrictMode>{tree}</StrictMode> : tree);
}

describe('useRun', () => {
  it('streams a run into the DOM: text per task, status, usage and output', async () => {
    const run = await client.runs.start({ crewId, inputs: { topic: 'dom' } });
    withClient(<RunView runId={run.id} />);
    await waitFor(() => expect(text('write')).toMatch(/^w0/), { timeout: 10_000 });
    await waitFor(() => expect(text('status')).toBe('SUCCEEDED'), { timeout: 10_000 });
    expect(text('write')).toBe(WRITE_TEXT);
    expect(text('output')).toBe(WRITE_TEXT);
    const stored = await client.runs.get(run.id);
    expect(Number(text('tokens'))).toBe(stored?.usage.totalTokens);
    expect(Number(text('events'))).toBe(stored?.lastSeq);
  });

  it('cancel() cancels the run and the stream ends with it', async () => {
    const run = await client.runs.start({ crewId, inputs: { topic: 'cancel' } });
    withClient(<RunView runId={run.id} />);
    await waitFor(() => expect(text('status')).toBe('RUNNING'), { timeout: 10_000 });
    await act(async () => fireEvent.click(screen.getByText('cancel')));
    await waitFor(() => expect(text('status')).toBe('CANCELLED'), { timeout: 10_000 });
    expect(text('output')).toBe('');
    await expect(client.runs.get(run.id)).resolves.toMatchObject({ status: 'CANCELLED' });
  });

  it('holds exactly one subscription under StrictMode, and none after unmount', async () => {
    const run = await client.runs.start({ crewId, inputs: { topic: 'strict' } });
    const view = withClient(<RunView runId={run.id} />, true);
    await waitFor(() => expect(Number(text('events'))).toBeGreaterThan(2), { timeout: 10_000 });
    expect(await subscribers()).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(await subscribers()).toBe(1);
    view.unmount();
    await waitForSubscribers(0);
    await client.runs.cancel(run.id);
  });

  it('shows each event once when it follows the same run with a new client', async () => {
    const run = await client.runs.start({ crewId, inputs: { topic: 'new-client' } });
    const view = withClient(<RunView runId={run.id} />);
    await waitFor(() => expect(Number(text('events'))).toBeGreaterThan(5), { timeout: 10_000 });
    // The app makes a new client (new credentials, say) while the run streams.
    const next = await sameTenantClient(client);
    view.rerender(
      <TroupeProvider client={next}>
        <RunView runId={run.id} />
      </TroupeProvider>,
    );
    await waitFor(() => expect(text('status')).toBe('SUCCEEDED'), { timeout: 10_000 });
    const stored = await client.runs.get(run.id);
    expect(Number(text('events'))).toBe(stored?.lastSeq);
    expect(text('write')).toBe(WRITE_TEXT);
  });

  it('retry() runs a failed run again and follows it to its end', async () => {
    const run = await client.runs.start({ crewId, inputs: { topic: `${FAILS_ONCE}${Date.now()}` } });
    withClient(<RunView runId={run.id} />);
    await waitFor(() => expect(text('status')).toBe('FAILED'), { timeout: 10_000 });
    const failedEvents = Number(text('events'));
    await act(async () => fireEvent.click(screen.getByText('retry')));
    await waitFor(() => expect(text('status')).toBe('SUCCEEDED'), { timeout: 10_000 });
    expect(text('output')).toBe(WRITE_TEXT);
    expect(Number(text('events'))).toBeGreaterThan(failedEvents);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('reports a run this caller cannot see as NOT_FOUND', async () => {
    const run = await client.runs.start({ crewId, inputs: { topic: 'private' } });
    const other = await tenantClient(`other-${Math.random()}`);
    render(
      <TroupeProvider client={other}>
        <RunView runId={run.id} />
      </TroupeProvider>,
    );
    expect((await screen.findByRole('alert', {}, { timeout: 10_000 })).textContent).toBe('NOT_FOUND');
    await client.runs.cancel(run.id);
  });
});

function Starter() {
  const { start, run, loading, error } = useStartRun();
  const { status, output } = useRun(run?.id);
  return (
    <div>
      <button type="button" onClick={() => void start({ crewId, inputs: { topic: 'start' } })}>
        start
      </button>
      <button type="button" onClick={() => void start({ crewId: 'Q3Jldzpub3BlCg==', inputs: {} })}>
        bad
      </button>
      {loading && <p>starting</p>}
      {error && <p role="alert">{error.code}</p>}
      <p data-testid="status">{run ? status : 'none'}</p>
      <p data-testid="output">{output ?? ''}</p>
    </div>
  );
}

describe('useStartRun', () => {
  it('starts a run that useRun then follows; a failed start shows its error', async () => {
    withClient(<Starter />);
    expect(text('status')).toBe('none');
    await act(async () => fireEvent.click(screen.getByText('start')));
    await waitFor(() => expect(text('status')).toBe('SUCCEEDED'), { timeout: 10_000 });
    expect(text('output')).toBe(WRITE_TEXT);
    await act(async () => fireEvent.click(screen.getByText('bad')));
    expect(['NOT_FOUND', 'BAD_INPUT']).toContain((await screen.findByRole('alert')).textContent);
  });
});

describe('useStartRun with slow answers', () => {
  const slow = holdAnswers((r) => r.operationName === 'StartRun');
  let troupe: TroupeClient;
  let slowCrewId: string;
  beforeAll(async () => {
    troupe = await tenantClient(`start-slow-${Math.random()}`, { fetch: slow.fetch });
    slowCrewId = (await troupe.crews.create(CREW)).id;
  });

  function StartButton({ started }: { started: string[] }) {
    const { start, run, loading, reset } = useStartRun();
    return (
      <div>
        <button
          type="button"
          onClick={() => {
            const click = started.length;
            started.push('');
            void start({ crewId: slowCrewId, inputs: { topic: `click-${click}` } }).then((r) => {
              started[click] = r?.id ?? 'failed';
            });
          }}
        >
          start
        </button>
        <button type="button" onClick={reset}>
          reset
        </button>
        <p data-testid="loading">{loading ? 'starting' : ''}</p>
        <p data-testid="run">{run?.id ?? 'none'}</p>
      </div>
    );
  }

  it('clicked twice, shows the run of the last click, whichever answer comes first', async () => {
    const started: string[] = [];
    render(
      <TroupeProvider client={troupe}>
        <StartButton started={started} />
      </TroupeProvider>,
    );
    const click = () => act(async () => fireEvent.click(screen.getByText('start')));
    // The first click's answer comes first: still starting (the second one), no run shown yet.
    await click();
    await click();
    await expect.poll(() => slow.held()).toBe(2);
    await act(async () => slow.release(0));
    await expect.poll(() => started[0]).toMatch(/.+/);
    await act(async () => {}); // what that answer did is rendered
    expect(text('loading')).toBe('starting');
    expect(text('run')).toBe('none');
    await act(async () => slow.release(1));
    await waitFor(() => expect(text('run')).toBe(started[1]));
    expect(text('loading')).toBe('');
    // The first click's answer comes last: the run of the last click stays.
    await click();
    await click();
    await expect.poll(() => slow.held()).toBe(4);
    await act(async () => slow.release(3));
    await waitFor(() => expect(text('run')).toBe(started[3]));
    expect(text('loading')).toBe('');
    await act(async () => slow.release(2));
    await expect.poll(() => started[2]).toMatch(/.+/);
    await act(async () => {}); // what that answer did is rendered
    expect(text('run')).toBe(started[3]);
    expect(text('loading')).toBe('');
  });

  it('reset() while a start is on its way: its answer is not shown when it comes', async () => {
    const started: string[] = [];
    render(
      <TroupeProvider client={troupe}>
        <StartButton started={started} />
      </TroupeProvider>,
    );
    const before = slow.held();
    await act(async () => fireEvent.click(screen.getByText('start')));
    await expect.poll(() => slow.held()).toBe(before + 1);
    expect(text('loading')).toBe('starting');
    await act(async () => fireEvent.click(screen.getByText('reset')));
    expect(text('loading')).toBe('');
    await act(async () => slow.release(before));
    await expect.poll(() => started[0]).toMatch(/.+/);
    await act(async () => {}); // what that answer did is rendered
    expect(text('run')).toBe('none');
    expect(text('loading')).toBe('');
  });
});

function Chat({ threadId }: { threadId: string }) {
  const { messages, streaming, status, send, stop, error, runError } = useChat(threadId);
  const [draft, setDraft] = useState('');
  const [sent, setSent] = useState('');
  return (
    <div>
      <p data-testid="chat-status">{status}</p>
      <ul>
        {messages.map((m) => (
          <li key={m.id}>
            {m.role}: {m.content}
          </li>
        ))}
      </ul>
      <p data-testid="streaming">{streaming?.text ?? ''}</p>
      {error && <p role="alert">{error.code}</p>}
      <p data-testid="run-error">{runError?.code ?? ''}</p>
      <p data-testid="sent">{sent}</p>
      <input aria-label="message" value={draft} onChange={(e) => setDraft(e.target.value)} />
      <button
        type="button"
        onClick={() => void send(draft).then((m) => setSent(m ? m.message.content : 'failed'))}
      >
        send
      </button>
      <button type="button" onClick={() => void stop()}>
        stop
      </button>
    </div>
  );
}

describe('useChat', () => {
  it('loads the history, shows the message sent and the reply as it is written', async () => {
    const thread = await client.threads.create({ agentId, title: 'chat' });
    await client.threads.send({ threadId: thread.id, content: 'Earlier' });
    for await (const e of client.threads.stream(thread.id)) if (e.type === 'RUN_SUCCEEDED') break;

    withClient(<Chat threadId={thread.id} />, true);
    expect(await screen.findByText('USER: Earlier', {}, { timeout: 10_000 })).toBeTruthy();
    expect(screen.getByText(`ASSISTANT: ${WRITE_TEXT}`)).toBeTruthy();
    expect(text('chat-status')).toBe('idle');
    await waitFor(async () => expect(await subscribers()).toBe(1));

    fireEvent.change(screen.getByLabelText('message'), { target: { value: 'Now' } });
    await act(async () => fireEvent.click(screen.getByText('send')));
    expect(await screen.findByText('USER: Now')).toBeTruthy();
    await waitFor(() => expect(text('streaming')).toMatch(/^w0 w1/), { timeout: 10_000 });
    expect(text('chat-status')).toBe('running');
    await waitFor(() => expect(screen.getAllByText(`ASSISTANT: ${WRITE_TEXT}`)).toHaveLength(2), {
      timeout: 10_000,
    });
    expect(text('streaming')).toBe('');
    expect(text('chat-status')).toBe('idle');
    expect(screen.getAllByRole('listitem')).toHaveLength(4);
    // StrictMode, and a thread that stays open: still one subscription.
    expect(await subscribers()).toBe(1);
  });

  it('a message sent while the history is still loading shows after the history, not above it', async () => {
    const slowHistory = holdAnswers((r) => r.operationName === 'ThreadMessages');
    const troupe = await sameTenantClient(client, { fetch: slowHistory.fetch });
    const thread = await client.threads.create({ agentId, title: 'sent early' });
    await client.threads.send({ threadId: thread.id, content: 'Earlier' });
    for await (const e of client.threads.stream(thread.id)) if (e.type === 'RUN_SUCCEEDED') break;

    render(
      <TroupeProvider client={troupe}>
        <Chat threadId={thread.id} />
      </TroupeProvider>,
    );
    await expect.poll(() => slowHistory.held()).toBe(1);
    fireEvent.change(screen.getByLabelText('message'), { target: { value: 'Right away' } });
    await act(async () => fireEvent.click(screen.getByText('send')));
    await waitFor(() => expect(text('sent')).toBe('Right away'));
    await act(async () => slowHistory.release(0));
    await waitFor(() => expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toHaveLength(4), {
      timeout: 10_000,
    });
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'USER: Earlier',
      `ASSISTANT: ${WRITE_TEXT}`,
      'USER: Right away',
      `ASSISTANT: ${WRITE_TEXT}`,
    ]);
  });

  it('opened while a reply is written, shows it running from its first word, and stop() cancels it', async () => {
    const thread = await client.threads.create({ agentId });
    const sent = await client.threads.send({ threadId: thread.id, content: `Take your time ${SLOW}` });
    let tokens = 0;
    for await (const e of client.threads.stream(thread.id)) if (e.type === 'TOKEN' && ++tokens === 3) break;
    withClient(<Chat threadId={thread.id} />);
    await waitFor(() => expect(text('chat-status')).toBe('running'), { timeout: 10_000 });
    // The words written before the chat opened are shown too, once, in order.
    await waitFor(() => expect(text('streaming')).toMatch(/^s0 s1 s2 s3/), { timeout: 10_000 });
    expect(screen.getAllByText(/^USER: Take your time/)).toHaveLength(1);
    await act(async () => fireEvent.click(screen.getByText('stop')));
    await waitFor(() => expect(text('chat-status')).toBe('idle'), { timeout: 10_000 });
    expect((await client.runs.get(sent.run.id))?.status).toBe('CANCELLED');
  });

  it('on an ENQUEUE thread opened mid-reply, stop() cancels the reply being written, then the next one', async () => {
    const thread = await client.threads.create({ agentId, concurrency: 'ENQUEUE' });
    const writing = await client.threads.send({ threadId: thread.id, content: `Take your time ${SLOW}` });
    for await (const e of client.threads.stream(thread.id)) if (e.type === 'TOKEN') break;
    // Sent while the reply is written: it waits its turn.
    const waiting = await client.threads.send({ threadId: thread.id, content: 'And then this' });
    withClient(<Chat threadId={thread.id} />);
    await waitFor(() => expect(text('streaming')).toMatch(/^s0 s1/), { timeout: 10_000 });
    const status = async (runId: string) => (await client.runs.get(runId))?.status;
    await act(async () => fireEvent.click(screen.getByText('stop')));
    await expect.poll(() => status(writing.run.id), { timeout: 10_000 }).toBe('CANCELLED');
    // The waiting message is answered next (its reply is slow too: the history asks for it), and
    // the chat stays running: stop() now cancels that reply.
    await expect.poll(() => status(waiting.run.id), { timeout: 10_000 }).toBe('RUNNING');
    expect(text('chat-status')).toBe('running');
    await act(async () => fireEvent.click(screen.getByText('stop')));
    await expect.poll(() => status(waiting.run.id), { timeout: 10_000 }).toBe('CANCELLED');
    await waitFor(() => expect(text('chat-status')).toBe('idle'), { timeout: 10_000 });
    expect(screen.queryByText(/^ASSISTANT:/)).toBeNull();
  });

  it('stop() cancels the reply; a second message while one is answered is a CONFLICT', async () => {
    const thread = await client.threads.create({ agentId });
    withClient(<Chat threadId={thread.id} />);
    await waitFor(() => expect(text('chat-status')).toBe('idle'));
    fireEvent.change(screen.getByLabelText('message'), { target: { value: 'Long answer please' } });
    await act(async () => fireEvent.click(screen.getByText('send')));
    await waitFor(() => expect(text('streaming')).not.toBe(''), { timeout: 10_000 });
    await act(async () => fireEvent.click(screen.getByText('send')));
    expect((await screen.findByRole('alert')).textContent).toBe('CONFLICT');
    await act(async () => fireEvent.click(screen.getByText('stop')));
    await waitFor(() => expect(text('chat-status')).toBe('idle'), { timeout: 10_000 });
    expect(screen.queryByText(/^ASSISTANT:/)).toBeNull();
    const runs = await client.runs.list({ first: 1 });
    expect(runs.nodes[0]?.status).toBe('CANCELLED');
  });
});

describe('useChat with slow answers to send()', () => {
  /** Holds the answers to sendMessage for messages that start with "Slow". */
  const slow = holdAnswers(
    (r) =>
      r.operationName === 'SendMessage' &&
      String((r.variables?.input as { content?: unknown } | undefined)?.content).startsWith('Slow'),
  );
  let troupe: TroupeClient;
  let writer: string;
  beforeAll(async () => {
    troupe = await tenantClient(`chat-slow-${Math.random()}`, { fetch: slow.fetch });
    writer = (await troupe.crews.create(CREW)).agents.find((a) => a.name === 'writer')!.id;
  });
  const chat = (threadId: string) => (
    <TroupeProvider client={troupe}>
      <Chat threadId={threadId} />
    </TroupeProvider>
  );
  const type = (value: string) => fireEvent.change(screen.getByLabelText('message'), { target: { value } });

  it('a send answered after the user moved to another thread leaves that thread as it shows', async () => {
    const first = await troupe.threads.create({ agentId: writer });
    const other = await troupe.threads.create({ agentId: writer });
    await troupe.threads.send({ threadId: other.id, content: 'Earlier' });
    for await (const e of troupe.threads.stream(other.id)) if (e.type === 'RUN_SUCCEEDED') break;

    const view = render(chat(first.id));
    await waitFor(() => expect(text('chat-status')).toBe('idle'));
    type('Slow one');
    const before = slow.held();
    await act(async () => fireEvent.click(screen.getByText('send')));
    await expect.poll(() => slow.held()).toBe(before + 1);
    // The user moves to the other thread before the answer comes.
    view.rerender(chat(other.id));
    expect(await screen.findByText('USER: Earlier', {}, { timeout: 10_000 })).toBeTruthy();
    expect(text('chat-status')).toBe('idle');
    await act(async () => slow.release(before));
    await waitFor(() => expect(text('sent')).toBe('Slow one'));
    expect(text('chat-status')).toBe('idle');
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'USER: Earlier',
      `ASSISTANT: ${WRITE_TEXT}`,
    ]);
  });

  it('a reply that failed before send() was answered stays failed, not running', async () => {
    const thread = await troupe.threads.create({ agentId: writer });
    render(chat(thread.id));
    await waitFor(() => expect(text('chat-status')).toBe('idle'));
    type(`Slow, ${REFUSED}`);
    const before = slow.held();
    await act(async () => fireEvent.click(screen.getByText('send')));
    await expect.poll(() => slow.held()).toBe(before + 1);
    // The run failed over the stream while the answer to send() was on its way.
    await waitFor(() => expect(text('run-error')).not.toBe(''), { timeout: 10_000 });
    const code = text('run-error');
    expect(screen.getByText(`USER: Slow, ${REFUSED}`)).toBeTruthy();
    expect(text('chat-status')).toBe('idle');
    await act(async () => slow.release(before));
    await waitFor(() => expect(text('sent')).toBe(`Slow, ${REFUSED}`));
    expect(text('chat-status')).toBe('idle');
    expect(text('run-error')).toBe(code);
    expect(screen.getAllByRole('listitem')).toHaveLength(1);
  });
});

describe('when the server is out of reach for longer than the reconnects', () => {
  /** A client of the tenant whose streams pass through a proxy the test can take down. */
  async function throughProxy() {
    const proxy = await startTcpProxy(serverUrl);
    const troupe = await sameTenantClient(client, {
      url: proxy.url,
      reconnect: { retries: 1, minDelayMs: 10, maxDelayMs: 20 },
    });
    return { proxy, troupe };
  }

  /** A chat through the proxy, open and idle; then the proxy goes down and its stream fails. */
  async function chatCutOff() {
    const { proxy, troupe } = await throughProxy();
    const thread = await client.threads.create({ agentId });
    render(
      <TroupeProvider client={troupe}>
        <Chat threadId={thread.id} />
      </TroupeProvider>,
    );
    try {
      await waitFor(() => expect(text('chat-status')).toBe('idle'), { timeout: 10_000 });
      await waitForSubscribers(1);
      act(() => proxy.down(true));
      expect((await screen.findByRole('alert', {}, { timeout: 5000 })).textContent).toBe('UNAVAILABLE');
    } catch (error) {
      await proxy.close();
      throw error;
    }
    return { proxy, thread };
  }

  function ReconnectingRun({ runId }: { runId: string }) {
    const { status, textByTask, events, error, reconnect } = useRun(runId);
    return (
      <div>
        <p data-testid="status">{status}</p>
        <p data-testid="write">{textByTask.write ?? ''}</p>
        <p data-testid="events">{events.length}</p>
        {error && <p role="alert">{error.code}</p>}
        <button type="button" onClick={reconnect}>
          reconnect
        </button>
      </div>
    );
  }

  it('useRun shows UNAVAILABLE; reconnect() resumes after the last event: every event once', async () => {
    const { proxy, troupe } = await throughProxy();
    try {
      // The run waits for its research to be approved: it cannot end before the outage.
      const reviewed = await client.crews.create({
        ...CREW,
        name: 'Reviewed writers',
        tasks: CREW.tasks.map((t) => (t.name === 'research' ? { ...t, requiresApproval: true } : t)),
      });
      const run = await client.runs.start({ crewId: reviewed.id, inputs: { topic: 'outage' } });
      render(
        <TroupeProvider client={troupe}>
          <ReconnectingRun runId={run.id} />
        </TroupeProvider>,
      );
      await waitFor(() => expect(text('status')).toBe('WAITING_FOR_APPROVAL'), { timeout: 10_000 });
      act(() => proxy.down(true));
      expect((await screen.findByRole('alert', {}, { timeout: 5000 })).textContent).toBe('UNAVAILABLE');
      // Approved meanwhile, the run writes and ends without this viewer.
      let approved = false;
      for await (const state of client.runs.watch(run.id)) {
        if (state.approval?.taskRunId && !approved) {
          approved = true;
          await client.runs.respond({ runId: run.id, taskRunId: state.approval.taskRunId, approved: true });
        }
        if (state.status === 'SUCCEEDED') break;
      }
      proxy.down(false);
      await act(async () => fireEvent.click(screen.getByText('reconnect')));
      await waitFor(() => expect(text('status')).toBe('SUCCEEDED'), { timeout: 10_000 });
      expect(screen.queryByRole('alert')).toBeNull();
      expect(text('write')).toBe(WRITE_TEXT);
      expect(Number(text('events'))).toBe((await client.runs.get(run.id))?.lastSeq);
    } finally {
      await proxy.close();
    }
  });

  it('useChat: a message sent after its stream failed opens the stream again, and its reply shows', async () => {
    const { proxy } = await chatCutOff();
    try {
      proxy.down(false);
      fireEvent.change(screen.getByLabelText('message'), { target: { value: 'Back again' } });
      await act(async () => fireEvent.click(screen.getByText('send')));
      expect(await screen.findByText(`ASSISTANT: ${WRITE_TEXT}`, {}, { timeout: 10_000 })).toBeTruthy();
      expect(screen.queryByRole('alert')).toBeNull();
      expect(text('chat-status')).toBe('idle');
    } finally {
      await proxy.close();
    }
  });

  it('useChat opens its stream again when the browser is back online: the reply whole, once', async () => {
    const { proxy, thread } = await chatCutOff();
    try {
      // Meanwhile, from another tab: a message and its whole reply.
      await client.threads.send({ threadId: thread.id, content: 'While you were away' });
      for await (const e of client.threads.stream(thread.id)) if (e.type === 'RUN_SUCCEEDED') break;
      proxy.down(false);
      act(() => {
        window.dispatchEvent(new Event('online'));
      });
      expect(await screen.findByText(`ASSISTANT: ${WRITE_TEXT}`, {}, { timeout: 10_000 })).toBeTruthy();
      expect(screen.queryByRole('alert')).toBeNull();
      expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
        'USER: While you were away',
        `ASSISTANT: ${WRITE_TEXT}`,
      ]);
      expect(text('chat-status')).toBe('idle');
    } finally {
      await proxy.close();
    }
  });
});
