import type { PiiType } from '../crew/crew-definition.js';

export interface PiiRedactionResult {
  text: string;
  /** How many of each kind were replaced. */
  counts: Record<PiiType, number>;
}

export const PII_TYPES: readonly PiiType[] = ['card', 'iban', 'ssn', 'email', 'phone'];

const PLACEHOLDER: Record<PiiType, string> = {
  email: '[REDACTED_EMAIL]',
  phone: '[REDACTED_PHONE]',
  card: '[REDACTED_CARD]',
  iban: '[REDACTED_IBAN]',
  ssn: '[REDACTED_SSN]',
};

function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let value = digits.charCodeAt(i) - 48;
    if (double) {
      value *= 2;
      if (value > 9) value -= 9;
    }
    sum += value;
    double = !double;
  }
  return sum % 10 === 0;
}

function ibanValid(candidate: string): boolean {
  const iban = candidate.replace(/\s+/g, '').toUpperCase();
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 && code <= 90 ? String(code - 55) : char;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

function ssnValid(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

const PATTERNS: Record<PiiType, { pattern: RegExp; accept: (match: RegExpExecArray) => boolean }> = {
  // 13–19 digits, optionally grouped by spaces or dashes; must pass the Luhn check.
  card: {
    pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g,
    accept: (m) => luhnValid(m[0].replace(/\D/g, '')),
  },
  // Country code, check digits, 11–30 alphanumerics (optionally in groups of 4); must pass mod-97.
  iban: {
    pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/gi,
    accept: (m) => ibanValid(m[0]),
  },
  ssn: {
    pattern: /\b(\d{3})-(\d{2})-(\d{4})\b/g,
    accept: (m) => ssnValid(m[1]!, m[2]!, m[3]!),
  },
  email: {
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    accept: () => true,
  },
  // +CC international numbers, North-American (415) 555-0132 / 415-555-0132, and trunk-0 national
  // numbers like 020 7946 0958. Bare digit runs are not treated as phone numbers.
  phone: {
    pattern:
      /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}|0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4})(?![\w-])/g,
    accept: (m) => {
      const digits = m[0].replace(/\D/g, '').length;
      return digits >= 7 && digits <= 15;
    },
  },
};

/**
 * Replaces emails, phone numbers, card numbers (Luhn-checked), IBANs (mod-97-checked) and
 * US SSNs with placeholders such as `[REDACTED_CARD]`. Numbers that fail their checksum are kept.
 */
export function redactPii(text: string, types: readonly PiiType[] = PII_TYPES): PiiRedactionResult {
  const counts: Record<PiiType, number> = { email: 0, phone: 0, card: 0, iban: 0, ssn: 0 };
  let result = text;
  // Order matters: checksummed, specific patterns first so phone matching never eats a card or IBAN.
  for (const type of PII_TYPES) {
    if (!types.includes(type)) continue;
    const { pattern, accept } = PATTERNS[type];
    result = result.replace(pattern, (...args: unknown[]) => {
      const match = Object.assign([...(args.slice(0, -2) as string[])], {
        index: args.at(-2) as number,
        input: result,
      }) as unknown as RegExpExecArray;
      if (!accept(match)) return match[0];
      counts[type] += 1;
      return PLACEHOLDER[type];
    });
  }
  return { text: result, counts };
}
