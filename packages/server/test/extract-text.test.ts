import { describe, expect, test } from 'vitest';
import { ExtractionError, extractText, htmlToText } from '../src/documents/extract-text.js';
import { makePdfPages } from './support/pdf.js';

describe('HTML to text', () => {
  test('drops comments, scripts, styles and tags; blocks and line breaks become new lines', () => {
    const page = `<!doctype html><html><head><title>T</title><style>p { color: red }</style></head>
      <body><h1>Title</h1><p>One &amp; two<br>three</p><script>var x = "<p>";</script><!-- note -->
      <div>Four</div> a < b and 3 <4 <SCRIPT src=x>hidden</SCRIPT> end</body></html>`;
    expect(htmlToText(page)).toBe('Title\n\nOne & two\nthree\n\nFour\n\na < b and 3 <4 end');
  });

  test('an element to skip that is never closed keeps what follows; an unclosed comment runs to the end', () => {
    expect(htmlToText('<p>before <script> after')).toBe('before after');
    expect(htmlToText('kept <!-- never closed')).toBe('kept');
    expect(htmlToText('x <<<< y <b')).toBe('x <<<< y <b');
  });

  // Regular expressions over tags took time that grew with the square of the page: a megabyte of
  // any of these took minutes, in the server, during the upload's checks.
  test.each(['<', '<br ', '<script>', '<!--', '<a href="', '<p>x'])(
    'a megabyte of %j is read in one pass',
    (unit) => {
      const page = unit.repeat(Math.ceil(1_000_000 / unit.length));
      expect(htmlToText(page).length).toBeLessThanOrEqual(page.length);
    },
  );
});

describe('JSON to text', () => {
  const json = (value: unknown) =>
    extractText(new TextEncoder().encode(JSON.stringify(value)), 'application/json');

  test('is pretty-printed, so keys and values land in readable chunks', async () => {
    const value = { orders: Array.from({ length: 3 }, (_, i) => ({ id: i, items: ['a', 'b'] })) };
    expect(await json(value)).toBe(JSON.stringify(value, null, 2));
  });

  test('a deeply nested file keeps its compact form instead of growing many times over', async () => {
    let value: unknown = 1;
    for (let i = 0; i < 17; i++) value = [value, value];
    const compact = JSON.stringify(value);
    // Indented, this half-megabyte file would be 13 MB of text to chunk and embed.
    expect(JSON.stringify(value, null, 2).length).toBeGreaterThan(20 * compact.length);
    expect(await json(value)).toBe(compact);
  });

  test('a large file (read in a thread of its own) reads the same; broken or too deep, a clear ExtractionError', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ note: `row ${i} ${'text '.repeat(24)}` }));
    const bytes = new TextEncoder().encode(JSON.stringify({ rows }));
    expect(bytes.length).toBeGreaterThan(1_000_000);
    expect(await extractText(bytes, 'application/json')).toBe(JSON.stringify({ rows }, null, 2));
    const broken = new TextEncoder().encode(`${JSON.stringify({ rows }).slice(0, -2)}`);
    await expect(extractText(broken, 'application/json')).rejects.toThrow(ExtractionError);
    await expect(extractText(broken, 'application/json')).rejects.toThrow(/not valid JSON/);
    const deep = new TextEncoder().encode(`${'['.repeat(600_000)}${']'.repeat(600_000)}`);
    await expect(extractText(deep, 'application/json')).rejects.toThrow(/nested too deeply/);
    const latin1 = new Uint8Array([
      ...new TextEncoder().encode(`{"a":"${'x'.repeat(1_100_000)}`),
      0xe9,
      0x22,
      0x7d,
    ]);
    await expect(extractText(latin1, 'application/json')).rejects.toThrow(/not valid UTF-8/);
  });

  test('a file that needs more memory than allowed is refused with the reason; this process goes on', async () => {
    // Many small objects: parsed, a few megabytes of JSON take tens of megabytes of heap.
    const bytes = new TextEncoder().encode(
      JSON.stringify(Array.from({ length: 300_000 }, (_, i) => ({ i }))),
    );
    await expect(extractText(bytes, 'application/json', { json: { memoryMb: 16 } })).rejects.toThrow(
      /needed more than 16 MB of memory; split it/,
    );
  });
});

describe('PDF to text', () => {
  const pages = (n: number, lines = 40) =>
    makePdfPages(
      Array.from({ length: n }, (_, p) =>
        Array.from({ length: lines }, (_, l) => `Page ${p + 1} line ${l + 1} on refunds and shipping`),
      ),
    );

  test('reads every page, pages apart by a blank line', async () => {
    const text = await extractText(pages(3, 2), 'application/pdf');
    expect(text.split('\n\n')).toEqual(
      [1, 2, 3].map((p) =>
        `Page ${p} line 1 on refunds and shipping Page ${p} line 2 on refunds and shipping`.replace(
          ' Page',
          '\nPage',
        ),
      ),
    );
  });

  // Read in a thread with a heap of its own: a PDF that needs more fails as the document's error.
  // Read in this thread, it ended the whole process (and every run and request in it).
  test('a PDF that needs more memory than allowed is refused with the reason; this process goes on', async () => {
    // A small one is read within the same limit: it is the big file that needs more.
    expect(await extractText(pages(2, 2), 'application/pdf', { pdf: { memoryMb: 16 } })).toContain(
      'Page 2 line 2',
    );
    const big = pages(300);
    const err = await extractText(big, 'application/pdf', { pdf: { memoryMb: 16 } }).catch((e) => e);
    expect(err).toBeInstanceOf(ExtractionError);
    expect(err.message).toBe(
      'Reading the PDF needed more than 16 MB of memory; split it into smaller files.',
    );
    // This process went on, and reads the same file with the default limit.
    expect(await extractText(big, 'application/pdf')).toContain('Page 300 line 40 on refunds and shipping');
  });

  test('reading past the time limit is stopped; an abort stops it with its reason', async () => {
    const big = pages(300);
    const slow = await extractText(big, 'application/pdf', { pdf: { timeLimitMs: 20 } }).catch((e) => e);
    expect(slow).toBeInstanceOf(ExtractionError);
    expect(slow.message).toBe('Reading the PDF took longer than 20 ms; split it into smaller files.');
    const stop = new AbortController();
    const reading = extractText(big, 'application/pdf', { signal: stop.signal }).catch((e) => e);
    setTimeout(() => stop.abort(new Error('shutting down')), 20);
    const stopped = await reading;
    expect(stopped).not.toBeInstanceOf(ExtractionError);
    expect(stopped.message).toBe('shutting down');
  });
});
