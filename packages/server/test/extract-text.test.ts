import { describe, expect, test } from 'vitest';
import { extractText, htmlToText } from '../src/documents/extract-text.js';

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
});
