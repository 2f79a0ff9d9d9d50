/**
 * Small local models sometimes write a tool call as text instead of using the native tool-call
 * channel, e.g. `{"name": "search", "arguments": {...}}` or `<tool_call>{...}</tool_call>`.
 * When the whole answer is such a call to a known tool, treat it as one.
 */
export function parseTextToolCall(
  text: string,
  toolNames: ReadonlySet<string>,
): { name: string; arguments: string } | undefined {
  let body = text.trim();
  const tagged = /^<tool_call>([\s\S]*)<\/tool_call>$/.exec(body);
  if (tagged?.[1]) body = tagged[1].trim();
  const fenced = /^```(?:json)?\s*([\s\S]*?)```$/.exec(body);
  if (fenced?.[1]) body = fenced[1].trim();
  if (!body.startsWith('{') || !body.endsWith('}')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  const name = typeof record.name === 'string' ? record.name : undefined;
  const args = record.arguments ?? record.parameters ?? {};
  if (!name || !toolNames.has(name) || typeof args !== 'object' || args === null) return undefined;
  return { name, arguments: JSON.stringify(args) };
}
