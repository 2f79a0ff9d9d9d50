import type { StructuredToolInterface } from '@langchain/core/tools';
import { toJsonSchema } from '@langchain/core/utils/json_schema';
import { AgentsError } from '../errors/agents-error.js';
import { type AgentTool, assertToolName } from './define-tool.js';
import type { JsonSchema } from './json-schema.js';

/** Tools accepted by the registry: our own, or LangChain StructuredTool / DynamicStructuredTool / tool(). */
export type ToolInput = AgentTool | StructuredToolInterface;

/** Name → tool. Agents reference tools by name. */
export interface ToolRegistry {
  get(name: string): AgentTool | undefined;
  has(name: string): boolean;
  names(): string[];
  /** Adds or replaces a tool. */
  register(tool: ToolInput): ToolRegistry;
}

function isLangChainTool(tool: ToolInput): tool is StructuredToolInterface {
  return 'lc_namespace' in tool && typeof (tool as StructuredToolInterface).invoke === 'function';
}

/** Wraps a LangChain tool; its own schema validation runs inside `invoke`. */
export function fromLangChainTool(tool: StructuredToolInterface): AgentTool {
  assertToolName(tool.name);
  const parameters = { ...(toJsonSchema(tool.schema as Parameters<typeof toJsonSchema>[0]) as JsonSchema) };
  delete parameters.$schema;
  return {
    name: tool.name,
    description: tool.description,
    parameters,
    async invoke(args, context) {
      const result: unknown = await tool.invoke(args as Parameters<typeof tool.invoke>[0], {
        signal: context.signal,
      });
      if (typeof result === 'object' && result !== null && 'content' in result && 'tool_call_id' in result) {
        return (result as { content: unknown }).content;
      }
      return result;
    },
  };
}

export function createToolRegistry(tools: Iterable<ToolInput> = []): ToolRegistry {
  const byName = new Map<string, AgentTool>();
  const registry: ToolRegistry = {
    get: (name) => byName.get(name),
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
    register(tool) {
      const adapted = isLangChainTool(tool) ? fromLangChainTool(tool) : tool;
      if (!adapted || typeof adapted.invoke !== 'function') {
        throw new AgentsError(
          'INVALID_TOOL',
          'A tool must come from defineTool() or be a LangChain structured tool.',
        );
      }
      byName.set(adapted.name, adapted);
      return registry;
    },
  };
  for (const tool of tools) registry.register(tool);
  return registry;
}
