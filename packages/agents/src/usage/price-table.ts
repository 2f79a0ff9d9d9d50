/** USD per one million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/**
 * Keyed by model name or `provider:model`. Extend or override per run with `runCrew({ prices })`.
 * Models not listed (and every Ollama / scripted model unless you add it) cost 0.
 */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** Public list prices (USD / 1M tokens) at the time of writing; override when they change. */
export const DEFAULT_PRICES: PriceTable = {
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'gpt-5': { inputPerMillion: 1.25, outputPerMillion: 10 },
  'gpt-5-mini': { inputPerMillion: 0.25, outputPerMillion: 2 },
  'gpt-5-nano': { inputPerMillion: 0.05, outputPerMillion: 0.4 },
  o3: { inputPerMillion: 2, outputPerMillion: 8 },
  'o4-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
};

/**
 * Cost of one call. Looks up `provider:model`, then `model`, then the longest listed
 * model name that prefixes it (so `gpt-4o-mini-2024-07-18` uses `gpt-4o-mini`).
 */
export function priceCall(
  prices: PriceTable,
  provider: string,
  model: string,
  promptTokens: number,
  completionTokens: number,
): number {
  let price = prices[`${provider}:${model}`] ?? prices[model];
  if (!price && provider === 'openai') {
    let best = '';
    for (const name of Object.keys(prices)) {
      if (!name.includes(':') && model.startsWith(`${name}-`) && name.length > best.length) best = name;
    }
    if (best) price = prices[best];
  }
  if (!price) return 0;
  return (promptTokens * price.inputPerMillion + completionTokens * price.outputPerMillion) / 1_000_000;
}
