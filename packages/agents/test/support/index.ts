// Test servers for this package's tests and for other packages' tests (plain TS, no vitest imports).
export {
  createOllamaTestServer,
  createOpenAICompatibleTestServer,
  type EmbeddingTestReply,
  type OllamaTestReply,
  type OllamaTestServer,
  type OpenAICompatibleTestServer,
  type OpenAITestReply,
  type RecordedRequest,
} from '../../src/testing/index.js';
