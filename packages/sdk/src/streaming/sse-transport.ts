import { errorFromGraphQLErrors, errorFromStatus, readGraphQLErrors } from '../transport/response-error';
import { isTroupeError, TroupeError } from '../troupe-error';
import type { StreamSettings } from './stream-context';
import type { SubscriptionTransport } from './subscription-transport';

/**
 * GraphQL over Server-Sent Events (distinct connections mode) with `fetch`: a POST answered with
 * `text/event-stream`. Works where `EventSource` does not exist (edge runtimes, Node).
 */
export function sseTransport(settings: StreamSettings): SubscriptionTransport {
  return (request, sink) => {
    const controller = new AbortController();
    let ended = false;
    const end = () => {
      ended = true;
      clearInterval(watchdog);
      controller.abort();
    };
    const fail = (error: unknown) => {
      if (ended) return;
      end();
      sink.error(
        isTroupeError(error)
          ? error
          : new TroupeError(`The event stream from ${settings.endpoint} broke`, {
              code: 'UNAVAILABLE',
              cause: error,
            }),
      );
    };
    // A half-open connection (a dead network, a sleeping laptop) can stay silent forever: the
    // server's keep-alives stop arriving. A full idleTimeoutMs without anything counts as lost.
    // (A counter checked by an interval: cheaper than resetting a timer on every chunk.)
    let activity = 0;
    let checked = -1;
    const watchdog = setInterval(() => {
      if (activity === checked) {
        fail(new TroupeError('The stream connection went silent', { code: 'UNAVAILABLE' }));
      }
      checked = activity;
    }, settings.idleTimeoutMs);
    const dispatch = (frame: string) => {
      let event = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
      }
      if (event === 'complete') {
        end();
        sink.complete();
      } else if ((event === 'next' || event === 'message') && data) {
        sink.next(JSON.parse(data));
      }
    };

    (async () => {
      const token = await settings.authorization('stream');
      const headers = new Headers(settings.headers);
      headers.set('accept', 'text/event-stream');
      headers.set('content-type', 'application/json');
      if (token) headers.set('authorization', `Bearer ${token}`);
      let response: Response;
      try {
        response = await settings.fetch(settings.endpoint, {
          method: 'POST',
          headers,
          body: JSON.stringify(request),
          signal: controller.signal,
        });
      } catch (cause) {
        return fail(new TroupeError(`Could not reach ${settings.endpoint}`, { code: 'UNAVAILABLE', cause }));
      }
      if (!/^text\/event-stream/i.test(response.headers.get('content-type') ?? '') || !response.body) {
        // An error answered as a plain GraphQL response (authentication, validation).
        const payload = (await response.json().catch(() => undefined)) as { errors?: unknown } | undefined;
        const errors = readGraphQLErrors(payload?.errors);
        return fail(
          errors
            ? errorFromGraphQLErrors(errors, response.status)
            : errorFromStatus(response.status, response.statusText),
        );
      }
      sink.established();
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (ended) return void reader.cancel().catch(() => {});
        if (done) break;
        activity++;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        for (let index = buffer.indexOf('\n\n'); index >= 0 && !ended; index = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, index);
          buffer = buffer.slice(index + 2);
          dispatch(frame);
        }
      }
      fail(
        new TroupeError('The event stream ended before the subscription completed', { code: 'UNAVAILABLE' }),
      );
    })().catch(fail);

    return end;
  };
}
