import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

/**
 * The `fetch` the providers hand to the `openai` and `ollama` clients on Node: the same requests
 * through Node's own http client, which costs a third to a half less CPU per call than Node's
 * built-in fetch (its Request, Response and web-stream objects), in the worker that makes every
 * LLM call.
 *
 * What it does not handle itself it leaves to the global fetch, whole: a body other than a string
 * or bytes, a `Request` object, a URL other than http(s), and a redirect (a 307 or 308 to its new address,
 * any other re-sent from the start). With an
 * undici dispatcher installed (`setGlobalDispatcher`: a proxy agent, a MockAgent), or with
 * `TROUPE_PROVIDER_FETCH=builtin`, every call goes to the global fetch (see `builtinWanted`).
 * Sockets are kept alive through Node's global agents (which Node 24's `NODE_USE_ENV_PROXY` also
 * configures).
 *
 * Errors are the global fetch's: a failed connection rejects with `TypeError('fetch failed')`
 * (the cause is Node's error, ECONNREFUSED and the like), an abort with the signal's reason, and
 * a body cut short fails its reader with `TypeError('terminated')`.
 */
export function providerFetch(): typeof fetch {
  return nodeHttpFetch as typeof fetch;
}

const UNDICI_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * Whether calls go to the global fetch: when asked (`TROUPE_PROVIDER_FETCH=builtin`), or when a
 * dispatcher of the undici package is installed for it (a ProxyAgent, an EnvHttpProxyAgent, a
 * MockAgent in tests...). Node's fetch installs a plain `Agent` there itself on first use, which
 * is told apart by its name only; an `Agent` of your own (custom TLS, say) needs the setting.
 */
function builtinWanted(): boolean {
  if (typeof process !== 'undefined' && process.env.TROUPE_PROVIDER_FETCH === 'builtin') return true;
  const dispatcher = (globalThis as Record<symbol, unknown>)[UNDICI_DISPATCHER] as
    | { constructor?: { name?: string } }
    | undefined;
  return dispatcher !== undefined && dispatcher.constructor?.name !== 'Agent';
}

function globalFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return globalThis.fetch(input, init);
}

async function nodeHttpFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (builtinWanted()) return globalFetch(input, init);
  if (typeof input !== 'string' && !(input instanceof URL)) return globalFetch(input, init);
  const body = init.body;
  if (body != null && typeof body !== 'string' && !(body instanceof Uint8Array))
    return globalFetch(input, init);
  const url = typeof input === 'string' ? new URL(input) : input;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return globalFetch(input, init);
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();

  const headers: Record<string, string> = {};
  if (init.headers) {
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
  }
  if (body != null)
    headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  headers['accept-encoding'] ??= 'gzip, deflate, br';

  const secure = url.protocol === 'https:';
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: init.method ?? 'GET',
      headers,
      agent: secure ? https.globalAgent : http.globalAgent,
    });
    const onAbort = () => req.destroy(abortReason(signal) as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('response', (r) => {
      // From here the body's reader watches the signal.
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    });
    req.once('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? abortReason(signal) : new TypeError('fetch failed', { cause: error }));
    });
    req.end(body ?? undefined);
  });

  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    // 307 and 308 keep the method and body: the built-in fetch takes it from the new address
    // (and any redirect after it). The others it answers from the start, with fetch's rules.
    const location = status === 307 || status === 308 ? new URL(res.headers.location, url) : input;
    return globalFetch(location, init);
  }
  return new NodeResponse(url.href, res, signal) as unknown as Response;
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function decoded(res: http.IncomingMessage): Readable {
  switch (String(res.headers['content-encoding'] ?? '').toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return res.pipe(zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH }));
    case 'deflate':
      return res.pipe(zlib.createInflate({ flush: zlib.constants.Z_SYNC_FLUSH }));
    case 'br':
      return res.pipe(zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH }));
    default:
      return res;
  }
}

/** The Response fields and methods the `openai` and `ollama` clients use. */
class NodeResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly redirected = false;
  readonly type = 'basic';
  readonly body: NodeBody;

  constructor(
    readonly url: string,
    res: http.IncomingMessage,
    signal: AbortSignal | undefined,
  ) {
    this.status = res.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    this.statusText = res.statusMessage ?? '';
    const headers = new Headers();
    const raw = res.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    this.headers = headers;
    this.body = new NodeBody(res, decoded(res), signal);
  }

  get bodyUsed(): boolean {
    return this.body.used;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.body) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

/**
 * The body as the clients read it: an async iterable (`openai`) and a `getReader()` (`ollama`).
 * Chunks come one by one as they arrive, never merged: `openai`'s event parser copies what
 * follows each event in a chunk, so merged chunks would cost it time quadratic in their size.
 */
class NodeBody implements AsyncIterableIterator<Buffer> {
  used = false;
  readonly #res: http.IncomingMessage;
  readonly #stream: Readable;
  readonly #signal: AbortSignal | undefined;
  readonly #queue: Buffer[] = [];
  #done = false;
  #error: unknown = null;
  #wake: (() => void) | null = null;
  #started = false;

  constructor(res: http.IncomingMessage, stream: Readable, signal: AbortSignal | undefined) {
    this.#res = res;
    this.#stream = stream;
    this.#signal = signal;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.used = true;
    const stream = this.#stream;
    const poke = () => {
      const wake = this.#wake;
      this.#wake = null;
      wake?.();
    };
    const fail = (error: unknown) => {
      if (this.#done || this.#error) return;
      this.#error = error;
      poke();
    };
    const onAbort = () => {
      fail(abortReason(this.#signal));
      this.#res.destroy();
    };
    if (this.#signal?.aborted) onAbort();
    else this.#signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => this.#signal?.removeEventListener('abort', onAbort);
    stream.on('data', (chunk: Buffer) => {
      this.#queue.push(chunk);
      if (this.#queue.length > 64) stream.pause();
      poke();
    });
    stream.once('end', () => {
      settle();
      this.#done = true;
      poke();
    });
    stream.once('error', (error) => {
      settle();
      fail(this.#signal?.aborted ? abortReason(this.#signal) : new TypeError('terminated', { cause: error }));
    });
    // The connection closed before the body ended (the server went away mid-stream).
    this.#res.once('close', () => {
      if (this.#res.complete) return;
      settle();
      fail(
        this.#signal?.aborted
          ? abortReason(this.#signal)
          : new TypeError('terminated', { cause: new Error('the connection closed before the body ended') }),
      );
    });
  }

  async next(): Promise<IteratorResult<Buffer>> {
    this.#start();
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        if (this.#queue.length < 16 && this.#stream.isPaused()) this.#stream.resume();
        return { done: false, value: chunk };
      }
      if (this.#error) throw this.#error;
      if (this.#done) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Stops reading: the connection is closed (what is left of the body is not wanted). */
  async return(): Promise<IteratorResult<Buffer>> {
    this.used = true;
    if (!this.#done) {
      this.#done = true;
      this.#res.destroy();
    }
    this.#queue.length = 0;
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  getReader() {
    return {
      read: async (): Promise<{ done: boolean; value: Uint8Array | undefined }> => {
        const r = await this.next();
        return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
      },
      releaseLock: () => {},
      cancel: async () => {
        await this.return();
      },
      closed: Promise.resolve(undefined),
    };
  }

  async cancel(): Promise<void> {
    await this.return();
  }
}
