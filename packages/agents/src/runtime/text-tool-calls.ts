/**
 * Small local models sometimes write tool calls as text instead of using the native tool-call
 * channel: a bare `{"name": "search", "arguments": {...}}`, a JSON array of those, or one or more
 * `<tool_call>{...}</tool_call>` blocks (Qwen/Hermes style), possibly in a ```json fence.
 * When the whole answer is made of such calls to known tools, treat them as tool calls.
 */
export function parseTextToolCalls(
  text: string,
  toolNames: ReadonlySet<string>,
): Array<{ name: string; arguments: string }> | undefined {
  let body = text.trim();
  if (!body) return undefined;
  const fenced = /^```(?:json)?\s*([\s\S]*?)```$/.exec(body);
  if (fenced?.[1]) body = fenced[1].trim();
  let candidates: unknown[];
  if (body.startsWith('<tool_call>')) {
    const blocks = [...body.matchAll(/<tool_call>([\s\S]*?)<\/tool_call>/g)];
    const rest = body.replace(/<tool_call>[\s\S]*?<\/tool_call>/g, '').trim();
    if (blocks.length === 0 || rest !== '') return undefined;
    candidates = [];
    for (const block of blocks) {
      const parsed = parseJson(block[1]!.trim());
      if (parsed === undefined) return undefined;
      candidates.push(parsed);
    }
  } else {
    if (!(body.startsWith('{') && body.endsWith('}')) && !(body.startsWith('[') && body.endsWith(']'))) {
      return undefined;
    }
    const parsed = parseJson(body);
    if (parsed === undefined) return undefined;
    candidates = Array.isArray(parsed) ? parsed : [parsed];
  }
  const calls: Array<{ name: string; arguments: string }> = [];
  for (const candidate of candidates) {
    if (typeof candidate !== 'object' || candidate === null) return undefined;
    const record = candidate as Record<string, unknown>;
    const name = typeof record.name === 'string' ? record.name : undefined;
    const args = record.arguments ?? record.parameters ?? {};
    if (!name || !toolNames.has(name) || typeof args !== 'object' || args === null) return undefined;
    calls.push({ name, arguments: JSON.stringify(args) });
  }
  return calls.length > 0 ? calls : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
