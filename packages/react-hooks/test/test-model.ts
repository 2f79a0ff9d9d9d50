import type { OpenAITestResponder } from '@troupe/agents/testing';

/** A chat message with this in it gets a reply the test model refuses: its run fails at once. */
export const REFUSED = 'please-refuse';

/** A chat message with this in it gets a slow reply: a chunk every 300 ms (9 s in all). */
export const SLOW = 'please-go-slow';

/** A message with `${FAILS_ONCE}<id>` in it is refused the first time only (per id): a retry succeeds. */
export const FAILS_ONCE = 'please-fail-once-';
const failedOnce = new Set<string>();

/** The test model: 30 words a task (r0… for research, w0… otherwise), a chunk every 15 ms. */
export const testModel: OpenAITestResponder = (request) => {
  const body = JSON.stringify(request.body);
  if (body.includes(REFUSED)) return { error: { status: 400, message: 'refused' } };
  const once = new RegExp(`${FAILS_ONCE}\\w+`).exec(body)?.[0];
  if (once && !failedOnce.has(once)) {
    failedOnce.add(once);
    return { error: { status: 400, message: 'refused, this once' } };
  }
  if (body.includes(SLOW))
    return { text: Array.from({ length: 30 }, (_, i) => `s${i}`).join(' '), chunkDelayMs: 300 };
  const research = body.includes('Research ');
  const words = Array.from({ length: 30 }, (_, i) => `${research ? 'r' : 'w'}${i}`).join(' ');
  return { text: words, chunkDelayMs: 15 };
};
