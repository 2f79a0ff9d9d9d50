import { describe, expect, test } from 'vitest';
import { htmlToText } from '../src/documents/extract-text.js';

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
