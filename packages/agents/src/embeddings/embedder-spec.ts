import { AgentsError } from '../errors/agents-error.js';
import type { EmbedderSpec } from './embedder.js';

export const DEFAULT_LOCAL_DIMENSIONS = 512;
export const MAX_LOCAL_DIMENSIONS = 8192;

const ACCEPTED =
  '"openai:<model>", "ollama:<model>", "local" or "local:<dimensions>" (e.g. "openai:text-embedding-3-small", "ollama:nomic-embed-text", "local:512")';

function invalid(spec: string, why: string): AgentsError {
  return new AgentsError('INVALID_ARGUMENT', `Invalid embedder "${spec}": ${why}. Use ${ACCEPTED}.`, {
    details: { field: 'embedder' },
  });
}

/** Checks a local dimension count: an integer from 1 to 8192. */
export function checkLocalDimensions(dimensions: unknown, spec: string): number {
  if (
    typeof dimensions !== 'number' ||
    !Number.isInteger(dimensions) ||
    dimensions < 1 ||
    dimensions > MAX_LOCAL_DIMENSIONS
  ) {
    throw invalid(spec, `local dimensions must be an integer from 1 to ${MAX_LOCAL_DIMENSIONS}`);
  }
  return dimensions;
}

/**
 * Reads "openai:<model>", "ollama:<model>", "local" or "local:<dimensions>" (provider case-insensitive;
 * the model may contain ":" as in "ollama:nomic-embed-text:latest"). `Embedder.model` strings parse too
 * ("local:hash-512"). Anything else: `AgentsError` INVALID_ARGUMENT naming the accepted forms.
 */
export function parseEmbedderSpec(spec: string): EmbedderSpec {
  if (typeof spec !== 'string') throw invalid(String(spec), 'expected a string');
  const text = spec.trim();
  const colon = text.indexOf(':');
  const provider = (colon === -1 ? text : text.slice(0, colon)).toLowerCase();
  const rest = colon === -1 ? undefined : text.slice(colon + 1).trim();
  if (provider === 'local') {
    if (rest === undefined) return { provider: 'local' };
    const digits = /^(?:hash-)?(\d+)$/.exec(rest);
    if (!digits) throw invalid(spec, `"${rest}" is not a number of dimensions`);
    return { provider: 'local', dimensions: checkLocalDimensions(Number(digits[1]), spec) };
  }
  if (provider === 'openai' || provider === 'ollama') {
    if (!rest) throw invalid(spec, `the model name after "${provider}:" is missing`);
    return { provider, model: rest };
  }
  if (text === '') throw invalid(spec, 'it is empty');
  if (colon === -1) throw invalid(spec, 'it names no provider');
  throw invalid(spec, `unknown provider "${provider}"`);
}
