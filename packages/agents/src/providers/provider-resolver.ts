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

/** Returns a memoising `agent → provider` function. Throws AgentsError for unusable settings. */
export function createProviderResolver(
  settings: ProviderSettings = {},
): (agent: AgentDefinition) => ChatProvider {
  const cache = new Map<string, ChatProvider>();
  return (agent) => {
    const name = String(agent.model.provider).toLowerCase() as ProviderName;
    const configured = settings[name];
    if (isChatProvider(configured)) return configured;
    const key = `${name}|${agent.model.baseUrl ?? ''}`;
    const cached = cache.get(key);
    if (cached) return cached;
    let provider: ChatProvider;
    if (name === 'openai') {
      const options = (configured ?? {}) as OpenAIProviderOptions;
      provider = createOpenAIProvider({
        ...options,
        ...(agent.model.baseUrl ? { baseUrl: agent.model.baseUrl } : {}),
      });
    } else if (name === 'ollama') {
      const options = (configured ?? {}) as OllamaProviderOptions;
      provider = createOllamaProvider({
        ...options,
        ...(agent.model.baseUrl ? { host: agent.model.baseUrl } : {}),
      });
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
