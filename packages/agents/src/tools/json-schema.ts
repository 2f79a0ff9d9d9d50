/**
 * A JSON Schema document. Kept structural (any JSON object) so schemas from
 * any source (hand-written, zod, LangChain) fit without casts.
 */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  enum?: unknown[];
  additionalProperties?: boolean | JsonSchema;
  [keyword: string]: unknown;
}
