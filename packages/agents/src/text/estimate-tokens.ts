/**
 * The package's token estimate for text it has not sent to a model: ceil(characters / 4), the usual
 * rule of thumb for English with OpenAI-style tokenizers. Used for chunk sizes and local usage.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
