import { CrewProcess, ModelProvider } from '../../generated/prisma/enums.js';
import { builder } from '../builder.js';

export const CrewProcessEnum = builder.enumType(CrewProcess, {
  name: 'CrewProcess',
  description: 'How a crew runs its tasks.',
});

export const ModelProviderEnum = builder.enumType(ModelProvider, {
  name: 'ModelProvider',
  description:
    'OPENAI (or any OpenAI-compatible URL via OPENAI_BASE_URL), OLLAMA, OPENAI_COMPATIBLE, SCRIPTED (deterministic demos and tests).',
});

export const ScopeEnum = builder.enumType('Scope', {
  description: 'API key scopes: ADMIN implies WRITE, which implies READ.',
  values: { READ: { value: 'read' }, WRITE: { value: 'write' }, ADMIN: { value: 'admin' } } as const,
});
