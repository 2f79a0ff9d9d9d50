import { AgentsError } from '../errors/agents-error.js';
import { abortableDelay } from '../runtime/abortable-delay.js';
import type { ChatChunk, ChatProvider, ChatRequest } from './chat-provider.js';
import { messageText } from './langchain-messages.js';

/** One scripted model answer. */
export interface ScriptedTurn {
  /** Answer text, streamed word by word. */
  text?: string;
  /** Answer text as explicit chunks (wins over `text`). */
  chunks?: string[];
  toolCalls?: Array<{ name: string; args: Record<string, unknown>; id?: string }>;
  /** Reported usage. Default: prompt ≈ characters / 4, completion = number of chunks. */
  usage?: { promptTokens: number; completionTokens: number };
  /** Pause before each chunk. */
  chunkDelayMs?: number;
  /** Fail this call instead of answering. */
  error?: AgentsError;
}

export type ScriptedScript = ScriptedTurn[] | ((request: ChatRequest, callIndex: number) => ScriptedTurn);

export interface ScriptedProvider extends ChatProvider {
  /** Every request received, in order. */
  readonly requests: ChatRequest[];
}

/**
 * A deterministic provider for demos and tests: answers from a script, no network.
 * It is never used unless an agent's model says `provider: 'scripted'` and you pass it as `providers.scripted`.
 */
export function createScriptedProvider(script: ScriptedScript): ScriptedProvider {
  const requests: ChatRequest[] = [];
  async function* stream(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const index = requests.length;
    requests.push(request);
    const turn = typeof script === 'function' ? script(request, index) : script[index];
    if (!turn) {
      throw new AgentsError(
        'PROVIDER_ERROR',
        `The scripted provider has no turn #${index + 1} (script has ${requests.length - 1}).`,
        {
          details: { provider: 'scripted', url: 'scripted://', model: request.model, retryable: false },
        },
      );
    }
    if (turn.error) throw turn.error;
    const chunks = turn.chunks ?? (turn.text ? (turn.text.match(/\s*\S+/g) ?? [turn.text]) : []);
    for (const chunk of chunks) {
      if (turn.chunkDelayMs) await abortableDelay(turn.chunkDelayMs, request.signal);
      if (request.signal.aborted) throw request.signal.reason;
      yield { type: 'text', text: chunk };
    }
    for (const [i, call] of (turn.toolCalls ?? []).entries()) {
      yield {
        type: 'tool_call',
        id: call.id ?? `scripted_${index}_${i}`,
        name: call.name,
        arguments: JSON.stringify(call.args),
      };
    }
    const promptChars = request.messages.reduce((sum, message) => sum + messageText(message).length, 0);
    yield {
      type: 'usage',
      ...(turn.usage ?? { promptTokens: Math.ceil(promptChars / 4), completionTokens: chunks.length }),
    };
  }
  return { name: 'scripted', url: 'scripted://', requests, stream };
}
