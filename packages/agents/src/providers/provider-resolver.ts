import type { AgentDefinition, ProviderName } from '../crew/crew-definition.js';
import { AgentsError } from '../errors/agents-error.js';
import type { ChatProvider } from './chat-provider.js';
import { createOllamaProvider, type OllamaProviderOptions } from './ollama-provider.js';
import { createOpenAIProvider, type OpenAIProviderOptions } from './openai-provider.js';

/**
 * Providers for a run. Pass a ready `ChatProvider` (used as is, for every agent of that provider)
 * or options (merged with each agent's `model.baseUrl`). Unset: built from the environment.
 */
export interface ProviderSettings {
  openai?: ChatProvider | OpenAIProviderOptions;
  ollama?: ChatProvider | OllamaProviderOptions;
  /** Required for agents whose model says `provider: 'scripted'`; see `createScriptedProvider`. */
  scripted?: ChatProvider;
}

function isChatProvider(value: unknown): value is ChatProvider {
  return typeof value === 'object' && value !== null && typeof (value as ChatProvider).stream === 'function';
}

/**
 * Built-in providers are shared across runs with identical settings: constructing an HTTP client on
 * every run costs more than the runtime itself. Bounded so unusual configurations cannot grow it.
 */
const sharedProviders = new Map<string, ChatProvider>();
const SHARED_PROVIDER_LIMIT = 64;

/** A fetch function's part of a shared provider's key (JSON leaves functions out): one id per function. */
const fetchIds = new WeakMap<object, number>();
let nextFetchId = 1;

function fetchKey(fetchFn: unknown): number | null {
  if (typeof fetchFn !== 'function') return null;
  let id = fetchIds.get(fetchFn);
  if (id === undefined) {
    id = nextFetchId++;
    fetchIds.set(fetchFn, id);
  }
  return id;
}

function shared(key: string, create: () => ChatProvider): ChatProvider {
  let provider = sharedProviders.get(key);
  if (!provider) {
    provider = create();
    if (sharedProviders.size >= SHARED_PROVIDER_LIMIT) sharedProviders.clear();
    sharedProviders.set(key, provider);
  }
  return provider;
}

/** Returns a memoising `agent → provider` function. Throws AgentsError for unusable settings. */
export function createProviderResolver(
  settings: ProviderSettings = {},
): (agent: AgentDefinition) => ChatProvider {
  const cache = new Map<string, ChatProvider>();
  const env = typeof process === 'undefined' ? {} : process.env;
  return (agent) => {
    const name = String(agent.model.provider).toLowerCase() as ProviderName;
    const configured = settings[name];
    if (isChatProvider(configured)) return configured;
    const key = `${name}|${agent.model.baseUrl ?? ''}`;
    const cached = cache.get(key);
    if (cached) return cached;
    let provider: ChatProvider;
    if (name === 'openai') {
      const options: OpenAIProviderOptions = {
        ...((configured ?? {}) as OpenAIProviderOptions),
        ...(agent.model.baseUrl ? { baseUrl: agent.model.baseUrl } : {}),
      };
      // The key includes what the provider reads from the environment, so env changes take effect.
      const sharedKey = JSON.stringify([
        'openai',
        options,
        fetchKey(options.fetch),
        env.OPENAI_API_KEY || null,
        env.OPENAI_BASE_URL || null,
      ]);
      provider = shared(sharedKey, () => createOpenAIProvider(options));
    } else if (name === 'ollama') {
      const options: OllamaProviderOptions = {
        ...((configured ?? {}) as OllamaProviderOptions),
        ...(agent.model.baseUrl ? { host: agent.model.baseUrl } : {}),
      };
      const sharedKey = JSON.stringify(['ollama', options, fetchKey(options.fetch), env.OLLAMA_HOST ?? null]);
      provider = shared(sharedKey, () => createOllamaProvider(options));
    } else {
      throw new AgentsError(
        'INVALID_CREW',
        `Agent "${agent.name}" uses the scripted provider, but no providers.scripted was passed. The scripted provider is for demos and tests only; create one with createScriptedProvider().`,
        { details: { agentName: agent.name, field: 'providers.scripted' } },
      );
    }
    cache.set(key, provider);
    return provider;
  };
}
