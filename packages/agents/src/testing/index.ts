// @troupe/agents/testing: protocol-accurate test servers for your own tests. Not for production.
export {
  createOllamaTestServer,
  type OllamaTestReply,
  type OllamaTestResponder,
  type OllamaTestServer,
  type OllamaTestServerOptions,
} from './ollama-test-server.js';
export {
  createOpenAICompatibleTestServer,
  type OpenAICompatibleTestServer,
  type OpenAITestReply,
  type OpenAITestResponder,
  type OpenAITestServerOptions,
} from './openai-test-server.js';
export type { EmbeddingTestReply } from './test-embeddings.js';
export type { RecordedRequest } from './test-http-server.js';
