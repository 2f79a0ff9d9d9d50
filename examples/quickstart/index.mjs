// Troupe quickstart: uses only the published entry points of @troupe/server and @troupe/sdk.
//   npm run build && npm start -w @troupe/example-quickstart
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer } from '@troupe/agents/testing';
import { createTroupeClient, isTroupeError } from '@troupe/sdk';
import { loadConfig, startTroupeServer } from '@troupe/server';

// No LLM needed to try it: a local server that speaks OpenAI's chat-completions protocol stands in.
// With a real model, set OPENAI_API_KEY (and OPENAI_BASE_URL for any compatible server) instead.
const llm = await createOpenAICompatibleTestServer();
llm.setFallback((request) => {
  const prompt = JSON.stringify(request.body);
  if (prompt.includes('Research otters')) return { text: 'Otters hold hands while they sleep.' };
  if (prompt.includes('Write about otters'))
    return { text: ['Sea otters ', 'hold hands ', 'so they do not drift apart.'] };
  return { text: 'Hello! Ask me anything about otters.' };
});
process.env.OPENAI_BASE_URL = llm.url;
process.env.OPENAI_API_KEY ??= 'not-needed-locally';

const dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-quickstart-'));
// Embedded mode: PGlite in dataDir, no configuration; the admin key is generated on first start.
// An empty environment: a DATABASE_URL or REDIS_URL left in the shell (a production one, say) must
// not make this example run in, and recover the unfinished runs of, that database.
const { config, generatedAdminKey } = loadConfig('embedded', { port: 0, dataDir }, {});
const server = await startTroupeServer(config);
try {
  console.log(`Troupe is running at ${server.url}/graphql`);

  // Your backend: the admin key creates a tenant for one of your customers.
  const admin = createTroupeClient({ url: server.url, apiKey: generatedAdminKey });
  const { tenant, apiKey } = await admin.tenants.create({ name: 'Acme Inc.' });
  console.log(`Created tenant ${tenant.name}; its admin key starts with ${apiKey.secret.slice(0, 8)}…`);

  // That tenant's key defines a crew: agents and tasks in one call.
  const acme = createTroupeClient({ url: server.url, apiKey: apiKey.secret });
  const crew = await acme.crews.create({
    name: 'Research',
    process: 'SEQUENTIAL',
    agents: [
      {
        name: 'researcher',
        role: 'Researcher',
        goal: 'Find facts',
        model: { provider: 'OPENAI', name: 'gpt-4o-mini' },
      },
      {
        name: 'writer',
        role: 'Writer',
        goal: 'Write clearly',
        model: { provider: 'OPENAI', name: 'gpt-4o-mini' },
      },
    ],
    tasks: [
      { name: 'research', description: 'Research {{topic}}', agent: 'researcher' },
      { name: 'write', description: 'Write about {{topic}}', agent: 'writer', dependsOn: ['research'] },
    ],
  });
  console.log(
    `Created crew "${crew.name}" (version ${crew.version}) with tasks ${crew.tasks.map((t) => t.name).join(' -> ')}`,
  );

  const page = await acme.crews.list({ first: 10 });
  assert.deepEqual(
    page.nodes.map((c) => c.name),
    ['Research'],
  );

  // Bad input is a typed error naming the field, and nothing is written.
  try {
    await acme.crews.create({
      name: 'Loop',
      agents: [{ name: 'a', role: 'r', model: { provider: 'OPENAI', name: 'm' } }],
      tasks: [
        { name: 'x', description: 'x', agent: 'a', dependsOn: ['y'] },
        { name: 'y', description: 'y', agent: 'a', dependsOn: ['x'] },
      ],
    });
    assert.fail('a cycle must be refused');
  } catch (err) {
    assert.ok(isTroupeError(err) && err.code === 'BAD_INPUT', String(err));
    console.log(`Refused as expected: ${err.message}`);
  }
  assert.equal((await acme.crews.list({ first: 10 })).nodes.length, 1);

  // Another tenant sees none of it.
  const other = await admin.tenants.create({ name: 'Globex' });
  const globex = createTroupeClient({ url: server.url, apiKey: other.apiKey.secret });
  assert.equal((await globex.crews.list({ first: 10 })).nodes.length, 0);
  assert.equal(await globex.crews.get(crew.id), null);
  console.log('Tenant isolation holds: Globex sees no crews.');

  // Run the crew and watch it: the state after each streamed event (text per task, status, usage).
  const run = await acme.runs.start({
    crewId: crew.id,
    inputs: { topic: 'otters' },
    idempotencyKey: 'otters-1',
  });
  let state;
  for await (const s of acme.runs.watch(run.id)) state = s;
  assert.equal(state.status, 'SUCCEEDED');
  const stored = await acme.runs.get(run.id);
  assert.equal(state.output, stored.output);
  console.log(`Run ${stored.status}: "${stored.output}"`);

  // Chat with one agent: the reply streams on the thread, then is stored as a message.
  const writer = crew.agents.find((a) => a.name === 'writer');
  const thread = await acme.threads.create({ agentId: writer.id });
  await acme.threads.send({ threadId: thread.id, content: 'Hi! Tell me about otters.' });
  let reply = '';
  for await (const e of acme.threads.stream(thread.id)) {
    if (e.type === 'TOKEN') reply += e.delta;
    if (e.type === 'RUN_SUCCEEDED' || e.type === 'RUN_FAILED') break;
  }
  const messages = await acme.threads.messages(thread.id, { first: 10 });
  assert.deepEqual(
    messages.nodes.map((m) => [m.role, m.content]),
    [
      ['USER', 'Hi! Tell me about otters.'],
      ['ASSISTANT', reply],
    ],
  );
  console.log(`Chat reply streamed and stored: "${reply}"`);

  // Documents: upload a file (with progress), wait until it is split and embedded, search it.
  const handbook = [
    '# Otter care handbook',
    '',
    'Otters eat about a quarter of their body weight in fish and shellfish every day.',
    '',
    'Their enclosure needs a deep pool of clean, cold water and a dry den.',
  ].join('\n');
  let sent = 0;
  const uploaded = await acme.documents.upload(handbook, {
    name: 'otter-care.md',
    mimeType: 'text/markdown',
    onProgress: (p) => {
      sent = p.loaded;
    },
  });
  assert.equal(sent, Buffer.byteLength(handbook));
  const doc = await acme.documents.waitUntilReady(uploaded.id, { timeoutMs: 30_000 });
  const [hit] = await acme.documents.search('how much do otters eat', { limit: 1 });
  assert.equal(hit.document.id, doc.id);
  assert.match(hit.content, /quarter of their body weight/);
  assert.deepEqual(await globex.documents.search('how much do otters eat'), []);
  console.log(
    `Document "${doc.name}" is ${doc.status} (${doc.chunkCount} chunk); search found: "${hit.content.split('\n')[2]}"`,
  );
  assert.equal(server.subscriberCount(), 0);
} finally {
  await server.close();
  await llm.close();
  rmSync(dataDir, { recursive: true, force: true });
}
