import { createHmac, timingSafeEqual } from 'node:crypto';

/** Signatures older or newer than this (seconds) are refused: a captured request cannot be replayed later. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * The signing secret of an outbound webhook (`whsec_…`) or an inbound hook (`trhk_…`), derived from
 * the server secret (TROUPE_SECRET) and the object's id: nothing secret is stored in the database,
 * and deleting the object (its id) retires the secret.
 */
export function deriveHookSecret(serverSecret: string, kind: 'webhook' | 'inbound-hook', id: string): string {
  const mac = createHmac('sha256', serverSecret).update(`${kind}:${id}`).digest('base64url');
  return `${kind === 'webhook' ? 'whsec_' : 'trhk_'}${mac}`;
}

function mac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** `X-Troupe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function signatureHeader(
  secret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  return `t=${timestamp},v1=${mac(secret, timestamp, body)}`;
}

export type SignatureCheck =
  /** mac: the verified signature, canonical (lower-case hex): what identifies a replay. */
  | { ok: true; timestamp: number; mac: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/** Verifies a signature header against the raw body, in constant time, within the tolerance window. */
export function verifySignatureHeader(
  secret: string,
  header: string | null | undefined,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d{1,12}$/.test(v)) timestamp = Number(v);
    else if (k === 'v1' && v) candidates.push(v);
  }
  if (timestamp === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return { ok: false, reason: 'stale' };
  const expectedHex = mac(secret, timestamp, body);
  const expected = Buffer.from(expectedHex, 'hex');
  for (const c of candidates) {
    const given = /^[0-9a-f]{64}$/i.test(c) ? Buffer.from(c, 'hex') : Buffer.alloc(expected.length);
    // Compared in full even when the candidate is malformed, so timing says nothing.
    if (timingSafeEqual(given, expected) && given.length === expected.length && /^[0-9a-f]{64}$/i.test(c))
      return { ok: true, timestamp, mac: expectedHex };
  }
  return { ok: false, reason: 'mismatch' };
}
