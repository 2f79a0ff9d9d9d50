import { AgentsError } from '../errors/agents-error.js';
import { estimateTokens } from './estimate-tokens.js';

/** One piece of a text, as `chunkText` returns it. */
export interface TextChunk {
  /** 0, 1, 2, … in text order. */
  index: number;
  /** The text of the chunk, without leading or trailing whitespace. */
  content: string;
  /** `estimateTokens(content)`: ceil(characters / 4). */
  tokenCount: number;
}

export interface ChunkTextOptions {
  /** Upper bound of a chunk's `tokenCount`. Default 400. */
  maxTokens?: number;
  /** About this many tokens at the end of a chunk start the next one (0: none). Default 50; less than `maxTokens`. */
  overlapTokens?: number;
}

const CHARS_PER_TOKEN = 4;
/** Paragraph and sentence breaks are used only if the chunk gets at least this share of `maxTokens`. */
const MIN_SOFT_BREAK_SHARE = 0.5;
/** Enough line breaks to tell a paragraph break from a line break. */
const PARAGRAPH_BREAK_LINES = 2;

function isSpace(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x85 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function isLineBreak(c: number): boolean {
  return c === 10 || c === 0x2028 || c === 0x2029;
}

/** . ! ? … and their full-width forms. */
function isSentenceEnd(c: number): boolean {
  return c === 46 || c === 33 || c === 63 || c === 0x2026 || c === 0x3002 || c === 0xff01 || c === 0xff1f;
}

/** 。！？ end a sentence without a following space. */
function isSpacelessSentenceEnd(c: number): boolean {
  return c === 0x3002 || c === 0xff01 || c === 0xff1f;
}

/** Closing quotes and brackets that may follow a sentence end: " ' ) ] ” ’ » 」 */
function isCloser(c: number): boolean {
  return (
    c === 34 || c === 39 || c === 41 || c === 93 || c === 0x201d || c === 0x2019 || c === 0xbb || c === 0x300d
  );
}

function positiveInteger(value: unknown, field: string, minimum: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw new AgentsError(
      'INVALID_ARGUMENT',
      `${field} must be an integer of at least ${minimum}, got ${String(value)}.`,
      {
        details: { field },
      },
    );
  }
  return value;
}

/**
 * Splits `text` into chunks of at most `maxTokens` estimated tokens (ceil(chars / 4)), each next chunk
 * repeating about `overlapTokens` of the previous one's end (starting at a word). Cuts at the last
 * paragraph break (a blank line) in the second half of the allowed size, else the last sentence end
 * there, else the last word boundary; a word is split only when it alone is longer than a chunk.
 * Whitespace-only text gives []. Linear in the length of the text.
 */
export function chunkText(text: string, opts: ChunkTextOptions = {}): TextChunk[] {
  if (typeof text !== 'string') {
    throw new AgentsError('INVALID_ARGUMENT', `text must be a string, got ${typeof text}.`, {
      details: { field: 'text' },
    });
  }
  const maxTokens = positiveInteger(opts.maxTokens ?? 400, 'maxTokens', 1);
  const overlapTokens = positiveInteger(opts.overlapTokens ?? 50, 'overlapTokens', 0);
  if (overlapTokens >= maxTokens) {
    throw new AgentsError(
      'INVALID_ARGUMENT',
      `overlapTokens (${overlapTokens}) must be less than maxTokens (${maxTokens}).`,
      { details: { field: 'overlapTokens' } },
    );
  }
  const maxChars = maxTokens * CHARS_PER_TOKEN;
  const overlapChars = overlapTokens * CHARS_PER_TOKEN;
  const softShare = Math.ceil(maxChars * MIN_SOFT_BREAK_SHARE);
  const n = text.length;
  const chunks: TextChunk[] = [];

  const skipSpace = (from: number): number => {
    let i = from;
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    return i;
  };

  let start = skipSpace(0);
  // A cut must come at or after this, so that every chunk adds text the previous one did not have.
  let minCut = start + 1;
  while (start < n) {
    const limit = start + maxChars;
    const cut = limit >= n ? n : findCut(start, limit, minCut);
    let contentEnd = cut;
    while (contentEnd > start && isSpace(text.charCodeAt(contentEnd - 1))) contentEnd--;
    const content = text.slice(start, contentEnd);
    chunks.push({ index: chunks.length, content, tokenCount: estimateTokens(content) });
    const firstNew = skipSpace(cut);
    if (firstNew >= n) break;
    const overlapStart = overlapChars > 0 ? findOverlapStart(start, contentEnd) : -1;
    // The overlap is kept only if the next chunk can still hold the first new word whole.
    const firstNewWordEnd = overlapStart >= 0 ? wordEnd(firstNew, overlapStart + maxChars) : -1;
    if (overlapStart >= 0 && firstNewWordEnd >= 0) {
      start = overlapStart;
      minCut = firstNewWordEnd;
    } else {
      start = firstNew;
      minCut = start + 1;
    }
  }
  return chunks;

  /** The first word start in [max(contentEnd - overlap, start + 1), contentEnd), or -1. */
  function findOverlapStart(chunkStart: number, contentEnd: number): number {
    for (let i = Math.max(contentEnd - overlapChars, chunkStart + 1); i < contentEnd; i++) {
      if (!isSpace(text.charCodeAt(i)) && isSpace(text.charCodeAt(i - 1))) return i;
    }
    return -1;
  }

  /** End of the word starting at `from` if it ends by `bound` (inclusive), else -1. */
  function wordEnd(from: number, bound: number): number {
    let i = from;
    const stop = Math.min(n, bound);
    while (i < stop && !isSpace(text.charCodeAt(i))) i++;
    return i === n || isSpace(text.charCodeAt(i)) ? i : -1;
  }

  /** Where to end a chunk starting at `chunkStart` that cannot reach the end of the text. */
  function findCut(chunkStart: number, limit: number, floor: number): number {
    const softFloor = Math.max(floor, chunkStart + softShare);
    // Line breaks in the whitespace run that begins right after the window.
    let run = 0;
    for (let i = limit + 1; i < n && i <= limit + maxChars; i++) {
      const c = text.charCodeAt(i);
      if (!isSpace(c)) break;
      if (isLineBreak(c) && ++run >= PARAGRAPH_BREAK_LINES) break;
    }
    let sentenceCut = -1;
    let wordCut = -1;
    // A cut at i keeps text[chunkStart, i): text[i - 1] is the last character kept.
    for (let i = limit; i > chunkStart && i >= floor; i--) {
      const c = text.charCodeAt(i);
      const before = text.charCodeAt(i - 1);
      if (isSpace(c)) {
        if (isLineBreak(c)) run = Math.min(PARAGRAPH_BREAK_LINES, run + 1);
      } else {
        run = 0;
      }
      const wordBoundary = isSpace(c) && !isSpace(before);
      if (wordBoundary && run >= PARAGRAPH_BREAK_LINES && i >= softFloor) return i;
      if (sentenceCut < 0 && i >= softFloor) {
        const endsSentence =
          (wordBoundary &&
            (isSentenceEnd(before) ||
              (isCloser(before) && i - 2 >= chunkStart && isSentenceEnd(text.charCodeAt(i - 2))))) ||
          (!isSpace(c) && isSpacelessSentenceEnd(before));
        if (endsSentence) sentenceCut = i;
      }
      if (wordCut < 0 && (wordBoundary || (!isSpace(c) && isSpacelessSentenceEnd(before)))) wordCut = i;
      // Below the soft floor only word boundaries count, and the last one is already known.
      if (i < softFloor && wordCut >= 0) break;
    }
    if (sentenceCut >= 0) return sentenceCut;
    if (wordCut >= 0) return wordCut;
    // One word longer than a chunk: cut it, but not between the halves of a surrogate pair.
    const high = text.charCodeAt(limit - 1);
    return high >= 0xd800 && high <= 0xdbff && limit - 1 > chunkStart ? limit - 1 : limit;
  }
}
