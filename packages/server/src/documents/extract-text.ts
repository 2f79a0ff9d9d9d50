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

/** The readable text of an HTML page: no scripts, styles or tags; block elements become line breaks. */
export function htmlToText(html: string): string {
  const text = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|noscript|template|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|hr)\b[^>]*>/gi, '\n')
    .replace(
      /<\/?(p|div|section|article|header|footer|li|ul|ol|h[1-6]|tr|table|blockquote|pre)\b[^>]*>/gi,
      '\n\n',
    )
    .replace(/<[^>]+>/g, ' ');
  return decodeEntities(text)
    .replace(/[ \t\f\v\r]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

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
      try {
        // Pretty-printed, so keys and values land in readable chunks.
        return JSON.stringify(JSON.parse(raw), null, 2);
      } catch (err) {
        throw new ExtractionError(`The file is not valid JSON: ${(err as Error).message}`);
      }
    }
    case 'pdf':
      return pdfToText(bytes);
    default:
      throw new ExtractionError(`Unsupported type ${mimeType}.`);
  }
}
