import type { BaseMessage } from '@langchain/core/messages';

/** Plain text of a LangChain message, whatever its content shape. */
export function messageText(message: BaseMessage): string {
  return typeof message.content === 'string' ? message.content : message.text;
}

export interface MessageToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

/** Tool calls carried by an AI message (empty for other messages). */
export function messageToolCalls(message: BaseMessage): MessageToolCall[] {
  const calls = (
    message as { tool_calls?: Array<{ id?: string; name: string; args: Record<string, unknown> }> }
  ).tool_calls;
  if (!calls) return [];
  return calls.map((call, index) => ({ id: call.id ?? `call_${index}`, name: call.name, args: call.args }));
}

/** `tool_call_id` and tool name of a ToolMessage. */
export function toolMessageFields(message: BaseMessage): { toolCallId: string; toolName: string } {
  const fields = message as { tool_call_id?: string; name?: string };
  return { toolCallId: fields.tool_call_id ?? '', toolName: fields.name ?? '' };
}
