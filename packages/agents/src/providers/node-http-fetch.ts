import http from 'node:http';
import https from 'node:https';
import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';

/**
 * The `fetch` the providers hand to the `openai` and `ollama` clients on Node: the same requests
 * through Node's own http client, which costs about a third less CPU for a short call than Node's
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

/**
 * `idleMs`: how long a request waits for its response headers, or between two chunks of its body;
 * `connectMs`: how long a connection may take to open (undici's defaults; tests shorten them).
 */
export const providerFetchTimeouts = { idleMs: 300_000, connectMs: 10_000 };

/** More stacked content-encodings than this are refused (as undici does). */
const MAX_CODINGS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Headers that never follow a redirect to another origin (what fetch drops too). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

async function nodeHttpFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (builtinWanted() || 'dispatcher' in init) return globalFetch(input, init);
  if (typeof input !== 'string' && !(input instanceof URL)) return globalFetch(input, init);
  const body = init.body;
  const method = (init.method ?? 'GET').toUpperCase();
  if (body != null && typeof body !== 'string' && !(body instanceof Uint8Array))
    return globalFetch(input, init);
  const url = typeof input === 'string' ? URL.parse(input) : input;
  // What fetch refuses (a bad URL, credentials in it, a body on a GET), it refuses itself.
  if (
    url === null ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username !== '' ||
    url.password !== '' ||
    (body != null && (method === 'GET' || method === 'HEAD'))
  )
    return globalFetch(input, init);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw abortReason(signal);

  const headers: Record<string, string> = {};
  if (init.headers) {
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
  }
  if (body != null)
    headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  // Not deflate: servers send it with or without zlib's wrapper, and only fetch guesses which.
  headers['accept-encoding'] ??= 'gzip, br';

  const secure = url.protocol === 'https:';
  let reader: NodeBody | undefined;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method,
      headers,
      agent: secure ? https.globalAgent : http.globalAgent,
    });
    const connecting = setTimeout(
      () => req.destroy(new Error(`timed out: no connection in ${providerFetchTimeouts.connectMs} ms`)),
      providerFetchTimeouts.connectMs,
    );
    req.once('socket', (socket) => {
      if (socket.connecting) socket.once('connect', () => clearTimeout(connecting));
      else clearTimeout(connecting);
    });
    // Silence from the server this long, before the headers or between two chunks of the body
    // (not while the body waits for its reader), ends the request: undici's headersTimeout and
    // bodyTimeout. The body then reads as cut short.
    req.setTimeout(providerFetchTimeouts.idleMs, () => {
      const error = new Error(`timed out: no data from the server in ${providerFetchTimeouts.idleMs} ms`);
      if (!reader) req.destroy(error);
      else if (!reader.paused) reader.fail(new TypeError('terminated', { cause: error }));
    });
    const onAbort = () => req.destroy(asError(abortReason(signal)));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('response', (r) => {
      clearTimeout(connecting);
      // From here the body watches the signal.
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    });
    req.once('error', (error) => {
      clearTimeout(connecting);
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? abortReason(signal) : new TypeError('fetch failed', { cause: error }));
    });
    req.end(body ?? undefined);
  });

  const status = res.statusCode ?? 0;
  const location = res.headers.location;
  if (REDIRECTS.has(status) && location !== undefined && init.redirect !== 'manual') {
    res.resume();
    if (init.redirect === 'error') {
      throw new TypeError('fetch failed', {
        cause: new Error(`unexpected redirect (HTTP ${status}) to ${location}`),
      });
    }
    // The built-in fetch goes on from the new address (and any redirect after it), with fetch's
    // rules for this hop: a 303, or a 301/302 after a POST, becomes a GET without a body; the
    // credentials stay behind when the origin changes.
    const target = URL.parse(location, url);
    if (target === null || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
      throw new TypeError('fetch failed', {
        cause: new Error(`redirect (HTTP ${status}) to a bad location: ${location}`),
      });
    }
    const next = new Headers(init.headers);
    let nextInit: RequestInit = { ...init, headers: next };
    if (
      (status === 303 && method !== 'GET' && method !== 'HEAD') ||
      ((status === 301 || status === 302) && method === 'POST')
    ) {
      nextInit = { ...nextInit, method: 'GET', body: null };
      for (const name of [
        'content-type',
        'content-length',
        'content-encoding',
        'content-language',
        'content-location',
      ])
        next.delete(name);
    }
    if (target.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) next.delete(name);
    return globalFetch(target, nextInit);
  }
  let response: NodeResponse;
  try {
    response = new NodeResponse(url.href, res, signal);
  } catch (error) {
    res.destroy();
    throw error;
  }
  reader = response.body;
  return response as unknown as Response;
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

/** The decoders for the body's `content-encoding`, in the order to apply them. */
function decoders(res: http.IncomingMessage): Transform[] {
  const codings = String(res.headers['content-encoding'] ?? '')
    .toLowerCase()
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_CODINGS)
    throw new TypeError('fetch failed', {
      cause: new Error(`too many content-encodings in the response: ${codings.length}`),
    });
  const out: Transform[] = [];
  for (const coding of codings.reverse()) {
    if (coding === 'gzip' || coding === 'x-gzip')
      out.push(
        zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
      );
    else if (coding === 'deflate')
      out.push(
        zlib.createInflate({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
      );
    else if (coding === 'br')
      out.push(
        zlib.createBrotliDecompress({
          flush: zlib.constants.BROTLI_OPERATION_FLUSH,
          finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
        }),
      );
    // An encoding fetch does not know either: the bytes are passed on as they are.
    else return [];
  }
  return out;
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
    this.body = new NodeBody(res, decoders(res), signal);
  }

  get bodyUsed(): boolean {
    return this.body.used;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    if (this.body.used) throw new TypeError('Body is unusable: Body has already been read');
    const chunks: Buffer[] = [];
    for await (const chunk of this.body) chunks.push(chunk);
    // A copy of its own (a small Buffer lies in Node's shared pool).
    return new Uint8Array(Buffer.concat(chunks));
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()], { type: this.headers.get('content-type') ?? '' });
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
 *
 * It listens from the moment the headers arrive, read or not: an abort, a lost connection or a
 * body that fails to decode closes the connection at once and is what the next read throws.
 * Chunks that arrive before the first read wait (64 at most; then the socket is paused).
 */
class NodeBody implements AsyncIterableIterator<Buffer> {
  /** A read started (or the body was cancelled). */
  used = false;
  readonly #res: http.IncomingMessage;
  readonly #decoders: Transform[];
  readonly #stream: Readable;
  readonly #signal: AbortSignal | undefined;
  readonly #queue: Buffer[] = [];
  #ended = false;
  #failed = false;
  #error: unknown;
  #waiters: (() => void)[] = [];
  readonly #onAbort = () => this.#fail(abortReason(this.#signal));

  constructor(res: http.IncomingMessage, decoders: Transform[], signal: AbortSignal | undefined) {
    this.#res = res;
    this.#decoders = decoders;
    this.#signal = signal;
    let stream: Readable = res;
    for (const decoder of decoders) {
      stream.pipe(decoder);
      decoder.once('error', (error) => this.#fail(new TypeError('terminated', { cause: error })));
      stream = decoder;
    }
    this.#stream = stream;
    if (signal?.aborted) {
      this.#onAbort();
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    stream.on('data', (chunk: Buffer) => {
      this.#queue.push(chunk);
      if (this.#queue.length > 64) stream.pause();
      this.#wake();
    });
    stream.once('end', () => {
      this.#ended = true;
      this.#release();
      this.#wake();
    });
    res.once('error', (error) => this.#fail(new TypeError('terminated', { cause: error })));
    // The connection closed before the body ended (the server went away mid-stream).
    res.once('close', () => {
      if (!res.complete)
        this.#fail(
          new TypeError('terminated', { cause: new Error('the connection closed before the body ended') }),
        );
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Stops listening to the signal (the body is done with). */
  #release(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  /** Whether the body waits for its reader (its socket paused). */
  get paused(): boolean {
    return this.#stream.isPaused();
  }

  fail(error: unknown): void {
    this.#fail(error);
  }

  #fail(error: unknown): void {
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#error = error;
    this.#queue.length = 0;
    this.#release();
    for (const decoder of this.#decoders) decoder.destroy();
    this.#res.destroy();
    this.#wake();
  }

  async next(): Promise<IteratorResult<Buffer>> {
    this.used = true;
    for (;;) {
      if (this.#failed) throw this.#error;
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        if (this.#queue.length < 16 && this.#stream.isPaused()) this.#stream.resume();
        return { done: false, value: chunk };
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Stops reading: the connection is closed (what is left of the body is not wanted). */
  async return(): Promise<IteratorResult<Buffer>> {
    this.used = true;
    this.#queue.length = 0;
    if (!this.#ended && !this.#failed) {
      this.#ended = true;
      this.#release();
      for (const decoder of this.#decoders) decoder.destroy();
      this.#res.destroy();
      this.#wake();
    }
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
