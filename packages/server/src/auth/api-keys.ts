import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_PREFIX = 'trp_';
export const ADMIN_KEY_PREFIX = 'trpa_';

function base62(bytes: number): string {
  const buf = randomBytes(bytes);
  let out = '';
  for (const b of buf) out += ALPHABET[b % 62];
  return out;
}

/** SHA-256 of a secret, hex: the only form in which keys are stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface NewApiKey {
  secret: string;
  /** The first characters of the secret, kept in clear so people can recognise their keys. */
  prefix: string;
  hashedSecret: string;
}

export function generateApiKey(): NewApiKey {
  const secret = API_KEY_PREFIX + base62(40);
  return { secret, prefix: secret.slice(0, API_KEY_PREFIX.length + 8), hashedSecret: hashSecret(secret) };
}

export function generateAdminKey(): string {
  return ADMIN_KEY_PREFIX + base62(40);
}
