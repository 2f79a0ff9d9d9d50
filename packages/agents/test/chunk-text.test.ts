import { describe, expect, it } from 'vitest';
import { AgentsError, chunkText, type TextChunk } from '../src/index.js';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];

/** A sentence of 6-11 words with a unique number, so every chunk can be located in the text. */
function sentence(n: number): string {
  const words = Array.from({ length: 6 + (n % 6) }, (_, i) => WORDS[(n * 7 + i * 3) % WORDS.length]);
  return `Sentence ${n} says ${words.join(' ')}.`;
}

function paragraphs(count: number, sentencesEach: (p: number) => number): string {
  let n = 0;
  return Array.from({ length: count }, (_, p) =>
    Array.from({ length: sentencesEach(p) }, () => sentence(n++)).join(' '),
  ).join('\n\n');
}

/**
 * Where each chunk lies in `text`: chunks appear in order, each later one starts after the previous
 * start, and nothing but whitespace is skipped between them (the chunks cover the whole text).
 */
function locate(text: string, chunks: TextChunk[]): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  let from = 0;
  for (const chunk of chunks) {
    const start = text.indexOf(chunk.content, from);
    expect(start, `chunk ${chunk.index} not found in order`).toBeGreaterThanOrEqual(0);
    const previous = spans.at(-1);
    const gapFrom = previous ? previous.end : 0;
    if (start > gapFrom)
      expect(text.slice(gapFrom, start).trim(), `text lost before chunk ${chunk.index}`).toBe('');
    spans.push({ start, end: start + chunk.content.length });
    from = start + 1;
  }
  expect(text.slice(spans.at(-1)?.end ?? 0).trim()).toBe('');
  return spans;
}

function expectWellFormed(chunks: TextChunk[], maxTokens: number): void {
  expect(chunks.map((chunk) => chunk.index)).toEqual(chunks.map((_, i) => i));
  for (const chunk of chunks) {
    expect(chunk.content).toBe(chunk.content.trim());
    expect(chunk.content.length).toBeGreaterThan(0);
    expect(chunk.tokenCount).toBe(Math.ceil(chunk.content.length / 4));
    expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
  }
}

const isWordChar = (c: string | undefined) => c !== undefined && /\S/.test(c);

describe('chunkText', () => {
  it('keeps every chunk within maxTokens, numbers them 0..n-1 and covers the whole text', () => {
    const text = paragraphs(12, (p) => 2 + (p % 5));
    const chunks = chunkText(text, { maxTokens: 60, overlapTokens: 10 });
    expect(chunks.length).toBeGreaterThan(10);
    expectWellFormed(chunks, 60);
    locate(text, chunks);
  });

  it('repeats about overlapTokens of each chunk at the start of the next, starting at a word', () => {
    const text = paragraphs(1, () => 40);
    const chunks = chunkText(text, { maxTokens: 50, overlapTokens: 10 });
    const spans = locate(text, chunks);
    for (let i = 1; i < spans.length; i++) {
      const overlap = spans[i - 1]!.end - spans[i]!.start;
      expect(overlap, `overlap before chunk ${i}`).toBeGreaterThan(0);
      expect(overlap).toBeLessThanOrEqual(40);
      expect(text[spans[i]!.start - 1]).toBe(' ');
      expect(chunks[i - 1]!.content.endsWith(chunks[i]!.content.slice(0, overlap))).toBe(true);
    }
    const withoutOverlap = chunkText(text, { maxTokens: 50, overlapTokens: 0 });
    const plainSpans = locate(text, withoutOverlap);
    for (let i = 1; i < plainSpans.length; i++)
      expect(plainSpans[i]!.start).toBeGreaterThanOrEqual(plainSpans[i - 1]!.end);
    expect(withoutOverlap.length).toBeLessThan(chunks.length);
  });

  it('ends chunks at paragraph breaks when a paragraph ends in the second half of the chunk', () => {
    // Paragraphs of at most 200 characters; chunks of up to 400 characters.
    const text = paragraphs(30, (p) => 1 + (p % 2));
    expect(Math.max(...text.split('\n\n').map((paragraph) => paragraph.length))).toBeLessThanOrEqual(200);
    const chunks = chunkText(text, { maxTokens: 100, overlapTokens: 0 });
    const spans = locate(text, chunks);
    for (const span of spans.slice(0, -1)) expect(text.slice(span.end, span.end + 2)).toBe('\n\n');
    // Not one chunk per paragraph: short paragraphs are packed together.
    expect(chunks.length).toBeLessThan(30);
  });

  it('ends chunks at sentence ends inside a long paragraph', () => {
    const text = paragraphs(1, () => 60);
    const chunks = chunkText(text, { maxTokens: 80, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.content).toMatch(/^Sentence \d+ /);
      expect(chunk.content).toMatch(/\.$/);
    }
  });

  it('treats closing quotes after a full stop and 。 as sentence ends', () => {
    const quoted = Array.from({ length: 30 }, (_, i) => `He said "item ${i} is ready."`).join(' ');
    for (const chunk of chunkText(quoted, { maxTokens: 30, overlapTokens: 0 })) {
      expect(chunk.content).toMatch(/^He said .*ready\."$/);
    }
    const chinese = '退款政策适用于损坏的商品。'.repeat(40);
    const chunks = chunkText(chinese, { maxTokens: 20, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.content.endsWith('。')).toBe(true);
    expect(chunks.map((chunk) => chunk.content).join('')).toBe(chinese);
  });

  it('cuts between words when there is no sentence end, never inside one', () => {
    const text = Array.from({ length: 2000 }, (_, i) => `${WORDS[(i * 7) % WORDS.length]}${i}`).join(' ');
    const chunks = chunkText(text, { maxTokens: 25, overlapTokens: 5 });
    const spans = locate(text, chunks);
    for (const span of spans) {
      expect(isWordChar(text[span.start - 1])).toBe(false);
      expect(isWordChar(text[span.end])).toBe(false);
    }
    // Full chunks: at most one word (≤ 12 characters) short of the 100-character limit.
    for (const span of spans.slice(0, -1)) expect(span.end - span.start).toBeGreaterThanOrEqual(88);
  });

  it('returns [] for empty and whitespace-only text, and one chunk for short text', () => {
    expect(chunkText('')).toEqual([]);
    expect(chunkText(' \n\n\t  \r\n ')).toEqual([]);
    expect(chunkText('  Hello world.  ')).toEqual([{ index: 0, content: 'Hello world.', tokenCount: 3 }]);
  });

  it('splits only a word that is longer than a chunk, without repeating its pieces', () => {
    const huge = `x${'y'.repeat(998)}z`;
    const text = `Before the word. ${huge} after the word.`;
    const chunks = chunkText(text, { maxTokens: 50, overlapTokens: 10 });
    expectWellFormed(chunks, 50);
    expect(chunks[0]!.content).toBe('Before the word.');
    const pieces = chunks.slice(1, -1).map((chunk) => chunk.content);
    expect(pieces.join('')).toBe(huge);
    expect(pieces.every((piece) => piece.length === 200)).toBe(true);
    expect(chunks.at(-1)!.content).toBe('after the word.');
  });

  it('never cuts between the two halves of a surrogate pair', () => {
    // The leading "a" puts every 100-character limit between the halves of a pair.
    const emoji = `a${'😀'.repeat(300)}`;
    const chunks = chunkText(emoji, { maxTokens: 25, overlapTokens: 0 });
    expect(chunks.map((chunk) => chunk.content).join('')).toBe(emoji);
    for (const chunk of chunks) {
      expect(chunk.content).not.toMatch(
        /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/,
      );
      expect(chunk.tokenCount).toBeLessThanOrEqual(25);
    }
  });

  it('does not repeat text around a long run of whitespace', () => {
    const text = `first part of the text${' '.repeat(5000)}second part of the text`;
    const chunks = chunkText(text, { maxTokens: 10, overlapTokens: 3 });
    expect(chunks.map((chunk) => chunk.content)).toEqual([
      'first part of the text',
      'second part of the text',
    ]);
  });

  it('rejects unusable options, naming the option', () => {
    const attempt = (opts: Parameters<typeof chunkText>[1]) => {
      try {
        chunkText('some text', opts);
      } catch (error) {
        return error as AgentsError;
      }
      throw new Error('expected an error');
    };
    expect(attempt({ maxTokens: 50, overlapTokens: 50 })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'overlapTokens' },
      message: expect.stringContaining('less than maxTokens'),
    });
    expect(attempt({ maxTokens: 0 })).toMatchObject({ details: { field: 'maxTokens' } });
    expect(attempt({ maxTokens: 2.5 })).toMatchObject({ details: { field: 'maxTokens' } });
    expect(attempt({ overlapTokens: -1 })).toMatchObject({ details: { field: 'overlapTokens' } });
    expect(attempt({ maxTokens: 0 })).toBeInstanceOf(AgentsError);
  });

  it('chunks 10 MB of text with the defaults, covering it all', () => {
    const block = paragraphs(40, (p) => 3 + (p % 9));
    const copies = Math.ceil(10_000_000 / block.length);
    // Number the copies so every chunk is found at its own place.
    const text = Array.from({ length: copies }, (_, i) => `Part ${i}.\n\n${block}`).join('\n\n');
    expect(text.length).toBeGreaterThan(10_000_000);
    const chunks = chunkText(text);
    expectWellFormed(chunks, 400);
    // Default 400 tokens (1,600 characters) with 50 tokens of overlap: mostly-full chunks.
    expect(chunks.length).toBeGreaterThan(text.length / 1600);
    expect(chunks.length).toBeLessThan(text.length / 800);
    const spans = locate(text, chunks);
    expect(spans[0]!.start).toBe(0);
    expect(spans.at(-1)!.end).toBe(text.length);
  });
});
