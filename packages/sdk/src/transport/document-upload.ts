import type { UploadData, UploadDocumentOptions, UploadedDocument } from '../resources/documents';
import { TROUPE_ERROR_CODES, TroupeError, type TroupeErrorCode } from '../troupe-error';
import { codeFromStatus } from './response-error';

/** What an upload needs from the client. */
export interface UploadSettings {
  /** The upload endpoint: the server's base URL + `/documents`. */
  url: string;
  authorization: () => Promise<string | undefined>;
  /** The client's own `fetch` option, when it has one. */
  fetch: typeof fetch | undefined;
  headers: Record<string, string> | undefined;
}

interface Answer {
  status: number;
  text: string;
}

/** Streamed bodies are handed over in slices of this size, one progress event each. */
const CHUNK_BYTES = 64 * 1024;

const typesByExtension: Readonly<Record<string, string>> = {
  md: 'text/markdown',
  markdown: 'text/markdown',
  txt: 'text/plain',
  csv: 'text/csv',
  htm: 'text/html',
  html: 'text/html',
  json: 'application/json',
  pdf: 'application/pdf',
};

/**
 * Sends one document to `POST /documents` as a raw body. Browsers (XMLHttpRequest) report
 * progress as the bytes go out; server runtimes whose fetch streams request bodies report it as
 * the body is read, 64 KB at a time; elsewhere one event reports the whole body once it was sent.
 */
export async function uploadDocument(
  settings: UploadSettings,
  data: UploadData,
  options: UploadDocumentOptions = {},
): Promise<UploadedDocument> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const body: Blob | Uint8Array =
    typeof data === 'string'
      ? new TextEncoder().encode(data)
      : ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : data instanceof ArrayBuffer || Object.prototype.toString.call(data) === '[object ArrayBuffer]'
          ? new Uint8Array(data as ArrayBuffer)
          : (data as Blob);
  const blob = body instanceof Uint8Array ? undefined : body;
  const name = options.name ?? (blob as Partial<File> | undefined)?.name;
  if (!name) {
    throw new TroupeError(
      'upload(): `name` is required unless the data is a File, e.g. { name: "notes.md" }',
      {
        code: 'BAD_INPUT',
        field: 'name',
      },
    );
  }
  const mimeType =
    options.mimeType ||
    blob?.type ||
    (typeof data === 'string' ? 'text/plain' : undefined) ||
    typesByExtension[name.slice(name.lastIndexOf('.') + 1).toLowerCase()] ||
    'application/octet-stream';
  const total = blob ? blob.size : (body as Uint8Array).byteLength;

  const token = await settings.authorization();
  signal?.throwIfAborted();
  const headers = new Headers(settings.headers);
  for (const [header, value] of Object.entries(options.headers ?? {})) headers.set(header, value);
  headers.set('accept', 'application/json');
  headers.set('content-type', mimeType);
  headers.set('x-troupe-document-name', encodeURIComponent(name));
  if (options.metadata !== undefined) {
    // Header values are Latin-1: JSON's \u escapes keep any text intact.
    const json = JSON.stringify(options.metadata).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    headers.set('x-troupe-document-metadata', json);
  }
  if (token) headers.set('authorization', `Bearer ${token}`);

  // Progress never goes down; a callback that throws ends the upload with its error.
  const controller = new AbortController();
  const abort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', abort, { once: true });
  let reported = -1;
  let callbackError: { error: unknown } | undefined;
  const report = (loaded: number) => {
    loaded = Math.min(loaded, total);
    if (loaded <= reported || callbackError) return;
    reported = loaded;
    try {
      onProgress?.({ loaded, total });
    } catch (error) {
      callbackError = { error };
      controller.abort(error);
    }
  };

  let answer: Answer;
  try {
    answer =
      typeof XMLHttpRequest === 'function' && !settings.fetch
        ? await sendWithXhr(settings.url, headers, body, controller.signal, report)
        : await sendWithFetch(settings, headers, body, total, controller.signal, report);
  } catch (cause) {
    if (callbackError) throw callbackError.error;
    if (signal?.aborted) throw signal.reason;
    throw new TroupeError(`Could not reach ${settings.url}`, { code: 'UNAVAILABLE', cause });
  } finally {
    signal?.removeEventListener('abort', abort);
  }

  let payload: {
    document?: UploadedDocument;
    error?: { code?: unknown; message?: unknown; field?: unknown };
  };
  try {
    payload = JSON.parse(answer.text);
  } catch {
    payload = {};
  }
  const { status } = answer;
  if (status >= 200 && status < 300 && payload?.document) {
    report(total);
    if (callbackError) throw callbackError.error;
    return payload.document;
  }
  const error = payload?.error;
  const code =
    typeof error?.code === 'string' && (TROUPE_ERROR_CODES as readonly string[]).includes(error.code)
      ? (error.code as TroupeErrorCode)
      : status >= 200 && status < 300
        ? 'INTERNAL'
        : codeFromStatus(status);
  const message =
    typeof error?.message === 'string' && error.message
      ? error.message
      : `The server answered HTTP ${status} without a document`;
  throw new TroupeError(message, {
    code,
    status,
    ...(typeof error?.field === 'string' ? { field: error.field } : {}),
  });
}

function sendWithXhr(
  url: string,
  headers: Headers,
  body: Blob | Uint8Array,
  signal: AbortSignal,
  report: (loaded: number) => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    headers.forEach((value, header) => {
      xhr.setRequestHeader(header, value);
    });
    xhr.upload.onprogress = (event) => report(event.loaded);
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    xhr.onerror = xhr.ontimeout = () => reject(new TypeError('XMLHttpRequest failed'));
    xhr.onabort = () => reject(signal.reason);
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body as XMLHttpRequestBodyInit);
  });
}

async function sendWithFetch(
  settings: UploadSettings,
  headers: Headers,
  body: Blob | Uint8Array,
  total: number,
  signal: AbortSignal,
  report: (loaded: number) => void,
): Promise<Answer> {
  // Looked up per call: `fetch` detached from its global can throw "Illegal invocation" in browsers.
  const fetchImpl = settings.fetch ?? ((input, init) => globalThis.fetch(input, init));
  // Browsers with a custom fetch send the body whole: Chromium streams request bodies only over HTTP/2.
  const stream = total > 0 && typeof XMLHttpRequest !== 'function' && canStreamRequests();
  const response = await fetchImpl(settings.url, {
    method: 'POST',
    headers,
    body: stream ? progressStream(body, total, report) : (body as BodyInit),
    signal,
    ...(stream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: response.status, text: await response.text() };
}

/** The body as a stream of 64 KB slices, read one slice at a time (nothing is buffered ahead). */
function progressStream(
  body: Blob | Uint8Array,
  total: number,
  report: (loaded: number) => void,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const end = Math.min(offset + CHUNK_BYTES, total);
        controller.enqueue(
          body instanceof Uint8Array
            ? body.subarray(offset, end)
            : new Uint8Array(await body.slice(offset, end).arrayBuffer()),
        );
        offset = end;
        report(offset);
        if (offset >= total) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** True where fetch can send a ReadableStream body (`duplex: 'half'`), as in Node 20+ (undici). */
function canStreamRequests(): boolean {
  try {
    let duplexRead = false;
    const request = new Request('http://localhost/', {
      method: 'POST',
      body: new ReadableStream(),
      get duplex() {
        duplexRead = true;
        return 'half';
      },
    } as RequestInit);
    return duplexRead && !request.headers.has('content-type');
  } catch {
    return false;
  }
}
