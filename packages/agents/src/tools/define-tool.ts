import { toJsonSchema } from '@langchain/core/utils/json_schema';
import type { z } from 'zod';
import { AgentsError } from '../errors/agents-error.js';
import type { JsonSchema } from './json-schema.js';
import { schemaIssues } from './schema-validation.js';

/** What a tool handler receives besides its arguments. */
export interface ToolContext {
  /** Aborted when the run is cancelled; pass it to fetch and friends. */
  signal: AbortSignal;
  taskName: string;
  agentName: string;
}

/** A tool the runtime can offer to a model. Build one with `defineTool`. */
export interface AgentTool {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: JsonSchema;
  /** Validates `args` and runs the handler. Throws on invalid arguments or handler failure. */
  invoke(args: unknown, context: ToolContext): Promise<unknown>;
}

export interface ZodToolDefinition<S extends z.ZodType> {
  name: string;
  description: string;
  input: S;
  handler: (args: z.output<S>, context: ToolContext) => unknown;
}

export interface JsonSchemaToolDefinition<A> {
  name: string;
  description: string;
  input: JsonSchema;
  handler: (args: A, context: ToolContext) => unknown;
}

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

export function assertToolName(name: string): void {
  if (!TOOL_NAME.test(name)) {
    throw new AgentsError(
      'INVALID_TOOL',
      `Tool name "${name}" is invalid: use 1-64 letters, digits, "_" or "-" (what model APIs accept).`,
      { details: { toolName: name, field: 'name' } },
    );
  }
}

/** Defines a typed tool. `input` is a zod schema (args typed from it) or a JSON Schema. */
export function defineTool<S extends z.ZodType>(definition: ZodToolDefinition<S>): AgentTool;
export function defineTool<A = Record<string, unknown>>(definition: JsonSchemaToolDefinition<A>): AgentTool;
export function defineTool(
  definition: ZodToolDefinition<z.ZodType> | JsonSchemaToolDefinition<Record<string, unknown>>,
): AgentTool {
  assertToolName(definition.name);
  const { name, description, input } = definition;
  const handler = definition.handler as (args: unknown, context: ToolContext) => unknown;
  if (isZodSchema(input)) {
    const parameters = toJsonSchema(input) as JsonSchema;
    delete parameters.$schema;
    return {
      name,
      description,
      parameters,
      async invoke(args, context) {
        const parsed = input.safeParse(args);
        if (!parsed.success) {
          const issues = parsed.error.issues.map(
            (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
          );
          throw new AgentsError('TOOL_ERROR', `Invalid arguments for tool "${name}": ${issues.join('; ')}`, {
            details: { toolName: name, issues },
          });
        }
        return handler(parsed.data, context);
      },
    };
  }
  return {
    name,
    description,
    parameters: input,
    async invoke(args, context) {
      const issues = schemaIssues(input, args);
      if (issues.length > 0) {
        throw new AgentsError('TOOL_ERROR', `Invalid arguments for tool "${name}": ${issues.join('; ')}`, {
          details: { toolName: name, issues },
        });
      }
      return handler(args, context);
    },
  };
}
