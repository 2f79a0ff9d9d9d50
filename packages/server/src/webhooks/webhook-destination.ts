import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
// The light subpath: the agent runtime itself (LangChain, LLM clients) loads only when a run starts.
import { blockedAddressKind, isMetadataHostname } from '@troupe/agents/address-policy';

/** Resolves a hostname to every address it has (default: the system resolver, `dns.lookup` with `all`). */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

export const resolveWithSystem: ResolveHost = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

const HINT = 'set TROUPE_WEBHOOK_ALLOW_PRIVATE=true to allow';

/** A webhook URL whose destination the policy refuses; never worth another attempt. */
export class RefusedDestinationError extends Error {
  override name = 'RefusedDestinationError';
}

/** The URL's host without IPv6 brackets and trailing dot, lower case. */
export function destinationHost(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

// Of the kinds, only `unspecified` takes "an" (`unique-local` is said "you-").
const article = (kind: string) => (kind === 'unspecified' ? 'an' : 'a');

function addressRefusal(address: string, allowPrivate: boolean, via?: string): string | undefined {
  const kind = blockedAddressKind(address);
  if (!kind || (allowPrivate && kind !== 'cloud metadata')) return undefined;
  const what = via
    ? `destination ${via} resolves to ${address}, ${article(kind)}`
    : `destination ${address} is ${article(kind)}`;
  return kind === 'cloud metadata' ? `${what} cloud metadata endpoint` : `${what} ${kind} address (${HINT})`;
}

/**
 * Why a host (a name or an IP address) may not receive webhooks, judged without DNS; undefined when
 * it may, or when only DNS can tell. Cloud metadata endpoints are refused even where private
 * destinations are allowed: no receiver lives there, and what they answer is credentials.
 */
export function refusedDestination(host: string, allowPrivate: boolean): string | undefined {
  if (isMetadataHostname(host)) return `destination ${host} is a cloud metadata endpoint`;
  if (isIP(host) !== 0) return addressRefusal(host, allowPrivate);
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost')))
    return `destination ${host} is a loopback host (${HINT})`;
  return undefined;
}

/**
 * Resolves a webhook URL's host and checks every address it resolves to: the answer is refused
 * whole when any address is (a name that points inside is not made safe by also pointing outside).
 * Returns the checked addresses, for the connection to use as they are: no second lookup that DNS
 * rebinding could answer differently.
 */
export async function resolveDestination(
  url: URL,
  opts: { allowPrivate: boolean; resolveHost: ResolveHost },
): Promise<LookupAddress[]> {
  const host = destinationHost(url);
  const early = refusedDestination(host, opts.allowPrivate);
  if (early) throw new RefusedDestinationError(early);
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family }];
  const addresses = await opts.resolveHost(host);
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  for (const { address } of addresses) {
    const why = addressRefusal(address, opts.allowPrivate, host);
    if (why) throw new RefusedDestinationError(why);
  }
  return addresses;
}
