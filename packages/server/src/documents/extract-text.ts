// Turning an uploaded file into the text that is chunked and embedded.

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

function decodeUtf8(bytes: Uint8Array): string {
  try {
    // A leading BOM is not text.
    return utf8.decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new ExtractionError(
      'The file is not valid UTF-8 text: upload text files in UTF-8 (or as application/pdf if it is a PDF).',
    );
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

/** PDFs longer than this are refused (text extraction runs in the processing process). */
const PDF_MAX_PAGES = 5000;

async function pdfToText(bytes: Uint8Array): Promise<string> {
  const { extractText, getDocumentProxy } = await import('unpdf');
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // unpdf takes ownership of the buffer it is given: hand it a copy.
    pdf = await getDocumentProxy(new Uint8Array(bytes));
  } catch (err) {
    throw new ExtractionError(`The file is not a readable PDF: ${(err as Error).message}`);
  }
  if (pdf.numPages > PDF_MAX_PAGES) {
    throw new ExtractionError(
      `The PDF has ${pdf.numPages} pages; at most ${PDF_MAX_PAGES} are read. Split it into smaller files.`,
    );
  }
  const { text } = await extractText(pdf, { mergePages: false });
  return (text as string[]).join('\n\n');
}

/** What indenting `value` by 2 per level would add to its compact JSON: a line break and the indent per member. */
function indentationBytes(value: unknown): number {
  let bytes = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const members = Array.isArray(v) ? v : Object.values(v);
    // Each member on its own line, indented one level deeper; the closing bracket on its own line.
    bytes += members.length * (1 + 2 * (depth + 1)) + (members.length > 0 ? 1 + 2 * depth : 0);
    for (const m of members) stack.push([m, depth + 1]);
  }
  return bytes;
}

/**
 * The text of a document. Throws ExtractionError (a permanent failure: the same bytes always fail)
 * for bytes its type cannot be read from.
 */
export async function extractText(bytes: Uint8Array, mimeType: string): Promise<string> {
  const kind = KINDS[mimeType];
  switch (kind) {
    case 'text':
      return decodeUtf8(bytes);
    case 'html':
      return htmlToText(decodeUtf8(bytes));
    case 'json': {
      const raw = decodeUtf8(bytes);
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw new ExtractionError(`The file is not valid JSON: ${(err as Error).message}`);
      }
      // Pretty-printed, so keys and values land in readable chunks; but indentation grows with the
      // depth of every line, and deeply nested files grew 30-fold and more (to chunks, and to
      // embeddings paid for). Such files keep the compact form.
      return indentationBytes(value) <= Math.max(raw.length, 1_000_000)
        ? JSON.stringify(value, null, 2)
        : JSON.stringify(value);
    }
    case 'pdf':
      return pdfToText(bytes);
    default:
      throw new ExtractionError(`Unsupported type ${mimeType}.`);
  }
}
