// Turning an uploaded file into the text that is chunked and embedded.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Types a document may have, and how its text is read. */
const KINDS: Record<string, 'text' | 'html' | 'json' | 'pdf'> = {
  'text/plain': 'text',
  'text/markdown': 'text',
  'text/x-markdown': 'text',
  'text/csv': 'text',
  'text/tab-separated-values': 'text',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/json': 'json',
  'application/x-ndjson': 'text',
  'application/pdf': 'pdf',
};

export const SUPPORTED_MIME_TYPES = Object.keys(KINDS);

/** "Text/Markdown; charset=utf-8" → "text/markdown"; undefined when the type is not supported. */
export function normalizeMimeType(raw: string | undefined | null): string | undefined {
  const base = (raw ?? '').split(';')[0]!.trim().toLowerCase();
  return base in KINDS ? base : undefined;
}

export class ExtractionError extends Error {
  override name = 'ExtractionError';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const NOT_UTF8 =
  'The file is not valid UTF-8 text: upload text files in UTF-8 (or as application/pdf if it is a PDF).';

function decodeUtf8(bytes: Uint8Array): string {
  try {
    // A leading BOM is not text.
    return utf8.decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new ExtractionError(NOT_UTF8);
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Elements whose content is not text to read: skipped with it, up to their closing tag. */
const SKIPPED = new Set(['script', 'style', 'noscript', 'template', 'head']);
/** Elements that end a line, and those that end a paragraph (opening or closing). */
const LINE = new Set(['br', 'hr']);
const BLOCK = new Set([
  'p',
  'div',
  'section',
  'article',
  'header',
  'footer',
  'li',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'tr',
  'table',
  'blockquote',
  'pre',
]);

/**
 * The readable text of an HTML page: no comments, scripts, styles or tags; block elements become
 * line breaks. One pass over the page, each character looked at a bounded number of times: an
 * upload is read in the server, and regular expressions over tags took time that grew with the
 * square of the page (a megabyte of "<" took minutes, holding every tenant's requests).
 */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase();
  const out: string[] = [];
  // Past this, no ">" (or no such closing tag) is left: every later search would fail the same way.
  let noGt = false;
  const unclosed = new Set<string>();
  let text = 0;
  let i = html.indexOf('<');
  while (i !== -1 && !noGt) {
    const next = html.charCodeAt(i + 1);
    const isTag = next === 0x2f /* / */ || next === 0x21 /* ! */ || next === 0x3f /* ? */ || isLetter(next);
    if (!isTag) {
      i = html.indexOf('<', i + 1);
      continue;
    }
    let end: number;
    let replacement = ' ';
    if (html.startsWith('<!--', i)) {
      const close = html.indexOf('-->', i + 4);
      end = close === -1 ? html.length : close + 3;
    } else {
      const gt = html.indexOf('>', i + 1);
      if (gt === -1) {
        noGt = true;
        break;
      }
      end = gt + 1;
      const closing = next === 0x2f;
      let n = i + (closing ? 2 : 1);
      const nameStart = n;
      while (n < gt && isNameChar(html.charCodeAt(n))) n++;
      const name = lower.slice(nameStart, n);
      if (!closing && SKIPPED.has(name) && !unclosed.has(name)) {
        const close = lower.indexOf(`</${name}`, gt + 1);
        const closeGt = close === -1 ? -1 : html.indexOf('>', close);
        if (closeGt === -1) unclosed.add(name);
        else end = closeGt + 1;
      } else if (LINE.has(name)) replacement = '\n';
      else if (BLOCK.has(name)) replacement = '\n\n';
    }
    out.push(html.slice(text, i), replacement);
    text = end;
    i = html.indexOf('<', end);
  }
  out.push(html.slice(text));
  return decodeEntities(out.join(''))
    .replace(/[ \t\f\v\r]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isNameChar = (c: number) => isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d;

/** PDFs longer than this are refused. */
const PDF_MAX_PAGES = 5000;

/** Limits of the thread a PDF is read in. */
export interface PdfLimits {
  /** Its JavaScript heap, in MB. Default 1024. */
  memoryMb?: number;
  /** How long reading may take. Default 300 s. */
  timeLimitMs?: number;
}

const PDF_MEMORY_MB = 1024;
const PDF_TIME_LIMIT_MS = 300_000;

// Runs in a thread of its own (below): `require` is the CommonJS one of an eval'd worker, and
// unpdf's path is resolved by this module, so it loads from this package's dependencies.
const PDF_READER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { extractText, getDocumentProxy } = require(workerData.unpdf);
  let pdf;
  try {
    pdf = await getDocumentProxy(workerData.bytes);
  } catch (err) {
    parentPort.postMessage({ unreadable: String((err && err.message) || err) });
    return;
  }
  if (pdf.numPages > workerData.maxPages) {
    parentPort.postMessage({ pages: pdf.numPages });
    return;
  }
  const { text } = await extractText(pdf, { mergePages: false });
  parentPort.postMessage({ text: text.join('\\n\\n') });
})().catch((err) => parentPort.postMessage({ failed: String((err && err.message) || err) }));
`;

let unpdfPath: string | undefined;

/**
 * A PDF's text layer, read by pdf.js (unpdf) in a worker thread with a heap of its own: a PDF that
 * needs too much memory or time fails as that document's error instead of ending the process (and
 * every run and request in it), and the pages are not parsed on the thread that serves them.
 * `signal` stops the reading (the thread is terminated) and rejects with its reason.
 */
function pdfToText(bytes: Uint8Array, signal?: AbortSignal, limits: PdfLimits = {}): Promise<string> {
  unpdfPath ??= createRequire(import.meta.url).resolve('unpdf');
  return readInThread<{ text?: string; unreadable?: string; pages?: number; failed?: string }>({
    kind: 'PDF',
    script: PDF_READER,
    bytes,
    workerData: { unpdf: unpdfPath, maxPages: PDF_MAX_PAGES },
    memoryMb: limits.memoryMb ?? PDF_MEMORY_MB,
    timeLimitMs: limits.timeLimitMs ?? PDF_TIME_LIMIT_MS,
    signal,
    answer: (m) => {
      if (m.text !== undefined) return m.text;
      if (m.unreadable !== undefined)
        throw new ExtractionError(`The file is not a readable PDF: ${m.unreadable}`);
      if (m.pages !== undefined)
        throw new ExtractionError(
          `The PDF has ${m.pages} pages; at most ${PDF_MAX_PAGES} are read. Split it into smaller files.`,
        );
      throw new ExtractionError(`The PDF could not be read: ${m.failed}`);
    },
  });
}

/**
 * Runs a reader script in a worker thread with a heap of its own, on a copy of `bytes` (pdf.js
 * takes ownership of the buffer it is given): a file that needs too much memory or time fails as
 * that document's error instead of ending the process (and every run and request in it), and is
 * not read on the thread that serves. `signal` stops the reading (the thread is terminated) and
 * rejects with its reason. `answer` turns the thread's one message into the text, or throws.
 */
function readInThread<M>(opts: {
  kind: 'PDF' | 'JSON';
  script: string;
  bytes: Uint8Array;
  workerData: Record<string, unknown>;
  memoryMb: number;
  timeLimitMs: number;
  signal: AbortSignal | undefined;
  answer: (message: M) => string;
}): Promise<string> {
  const { kind, memoryMb, timeLimitMs, signal } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const copy = new Uint8Array(opts.bytes);
    const worker = new Worker(opts.script, {
      eval: true,
      workerData: { ...opts.workerData, bytes: copy },
      transferList: [copy.buffer],
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    });
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      settle();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new ExtractionError(
              `Reading the ${kind} took longer than ${timeLimitMs >= 1000 ? `${Math.round(timeLimitMs / 1000)} s` : `${timeLimitMs} ms`}; split it into smaller files.`,
            ),
          ),
        ),
      timeLimitMs,
    );
    const onAbort = () => finish(() => reject(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: M) =>
      finish(() => {
        try {
          resolve(opts.answer(m));
        } catch (err) {
          reject(err);
        }
      }),
    );
    worker.on('error', (err: Error & { code?: string }) =>
      finish(() =>
        reject(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new ExtractionError(
                `Reading the ${kind} needed more than ${memoryMb} MB of memory; split it into smaller files.`,
              )
            : err,
        ),
      ),
    );
    worker.once('exit', (code) =>
      finish(() => reject(new Error(`the ${kind} reader stopped (exit code ${code})`))),
    );
  });
}

/** JSON files larger than this are read in a thread of their own. */
const JSON_IN_THREAD_BYTES = 1_000_000;
const JSON_MEMORY_MB = 1024;
const JSON_TIME_LIMIT_MS = 120_000;

/**
 * A JSON file's text, or why it cannot be read. Pretty-printed, so keys and values land in readable
 * chunks; but indentation grows with the depth of every line, and deeply nested files grew 30-fold
 * and more (to chunks, and to embeddings paid for): such files keep the compact form. Self-contained
 * (it runs in the reader thread too, from its source).
 */
function readJson(raw: string): { text: string } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { error: `The file is not valid JSON: ${(err as Error).message}` };
  }
  try {
    // What indenting by 2 per level would add to the compact JSON: a line break and the indent per member.
    let indentation = 0;
    const stack: [unknown, number][] = [[value, 0]];
    while (stack.length > 0) {
      const [v, depth] = stack.pop()!;
      if (typeof v !== 'object' || v === null) continue;
      const members = Array.isArray(v) ? v : Object.values(v);
      indentation += members.length * (1 + 2 * (depth + 1)) + (members.length > 0 ? 1 + 2 * depth : 0);
      for (const m of members) stack.push([m, depth + 1]);
    }
    return {
      text:
        indentation <= Math.max(raw.length, 1_000_000)
          ? JSON.stringify(value, null, 2)
          : JSON.stringify(value),
    };
  } catch (err) {
    // Nested too deep for the stack (thousands of levels): the file's fault, not the server's.
    if (err instanceof RangeError)
      return { error: 'The JSON is nested too deeply to read (thousands of levels).' };
    throw err;
  }
}

const JSON_READER = `
const { parentPort, workerData } = require('node:worker_threads');
const readJson = ${readJson.toString()};
try {
  let raw;
  try {
    raw = new TextDecoder('utf-8', { fatal: true }).decode(workerData.bytes).replace(/^\uFEFF/, '');
  } catch {
    parentPort.postMessage({ notUtf8: true });
    raw = undefined;
  }
  if (raw !== undefined) parentPort.postMessage(readJson(raw));
} catch (err) {
  parentPort.postMessage({ failed: String((err && err.message) || err) });
}
`;

/** readJson in a thread with a heap of its own (see JSON_IN_THREAD_BYTES). */
function jsonToTextInThread(
  bytes: Uint8Array,
  signal: AbortSignal | undefined,
  memoryMb: number,
): Promise<string> {
  return readInThread<{ text?: string; error?: string; notUtf8?: boolean; failed?: string }>({
    kind: 'JSON',
    script: JSON_READER,
    bytes,
    workerData: {},
    memoryMb,
    timeLimitMs: JSON_TIME_LIMIT_MS,
    signal,
    answer: (m) => {
      if (m.text !== undefined) return m.text;
      if (m.error !== undefined) throw new ExtractionError(m.error);
      if (m.notUtf8) throw new ExtractionError(NOT_UTF8);
      throw new Error(`the JSON reader failed: ${m.failed}`);
    },
  });
}

/**
 * The text of a document. Throws ExtractionError (a permanent failure: the same bytes always fail)
 * for bytes its type cannot be read from.
 */
export async function extractText(
  bytes: Uint8Array,
  mimeType: string,
  opts: { signal?: AbortSignal; pdf?: PdfLimits; json?: { memoryMb?: number } } = {},
): Promise<string> {
  const text = await extractRawText(bytes, mimeType, opts);
  // Postgres text cannot hold NUL, which PDFs' text layers (and some text files) have: every
  // attempt to store the chunks failed, and the document with them after five.
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}

async function extractRawText(
  bytes: Uint8Array,
  mimeType: string,
  opts: { signal?: AbortSignal; pdf?: PdfLimits; json?: { memoryMb?: number } },
): Promise<string> {
  const kind = KINDS[mimeType];
  switch (kind) {
    case 'text':
      return decodeUtf8(bytes);
    case 'html':
      return htmlToText(decodeUtf8(bytes));
    case 'json': {
      // A parsed JSON file takes up to ~20 times its size in memory (many small objects): large
      // ones are read in a thread with a heap of its own, as PDFs are, not on the one that serves.
      if (bytes.length > JSON_IN_THREAD_BYTES)
        return jsonToTextInThread(bytes, opts.signal, opts.json?.memoryMb ?? JSON_MEMORY_MB);
      const result = readJson(decodeUtf8(bytes));
      if ('text' in result) return result.text;
      throw new ExtractionError(result.error);
    }
    case 'pdf':
      return pdfToText(bytes, opts.signal, opts.pdf);
    default:
      throw new ExtractionError(`Unsupported type ${mimeType}.`);
  }
}
