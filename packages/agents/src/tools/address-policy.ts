import { BlockList, isIP } from 'node:net';

/**
 * Why an address is not a public internet destination. `cloud metadata` (169.254.169.254 and its
 * kin) is the most specific kind: it is also link-local or unique-local.
 */
export type BlockedAddressKind =
  | 'cloud metadata'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade NAT'
  | 'unique-local'
  | 'multicast'
  | 'unspecified'
  | 'reserved';

type Range = readonly [network: string, prefix: number, kind: BlockedAddressKind];

// Most specific first: the first range that holds the address names its kind.
const IPV4: readonly Range[] = [
  ['169.254.169.254', 32, 'cloud metadata'], // AWS, GCP, Azure, OpenStack, DigitalOcean …
  ['169.254.170.2', 32, 'cloud metadata'], // AWS ECS task metadata and credentials
  ['169.254.170.23', 32, 'cloud metadata'], // AWS EKS Pod Identity agent (credentials)
  ['169.254.0.23', 32, 'cloud metadata'], // Tencent Cloud
  ['168.63.129.16', 32, 'cloud metadata'], // Azure WireServer: a public address, not link-local
  ['100.100.100.200', 32, 'cloud metadata'], // Alibaba Cloud
  ['192.0.0.192', 32, 'cloud metadata'], // Oracle Cloud (legacy)
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // and 255.255.255.255
];
const IPV6: readonly Range[] = [
  ['fd00:ec2::254', 128, 'cloud metadata'], // AWS IPv6 instance metadata
  ['fd00:ec2::23', 128, 'cloud metadata'], // AWS EKS Pod Identity agent, IPv6
  ['fd20:ce::254', 128, 'cloud metadata'], // Google Cloud IPv6 metadata server
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'reserved'], // deprecated site-local
  ['ff00::', 8, 'multicast'],
  ['2001:db8::', 32, 'reserved'],
  ['2001::', 32, 'reserved'], // Teredo: hides an IPv4 address
  ['100::', 64, 'reserved'], // discard-only
];

const lists = (ranges: readonly Range[], type: 'ipv4' | 'ipv6') =>
  ranges.map(([network, prefix, kind]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, type);
    return { list, kind };
  });
const IPV4_LISTS = lists(IPV4, 'ipv4');
const IPV6_LISTS = lists(IPV6, 'ipv6');

const BLOCKED_HOSTNAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

/** The eight 16-bit groups of an IPv6 address (already validated by isIP). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const v4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

/**
 * The IPv4 address an IPv6 address carries, if any: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:AABB:CCDD::`.
 */
function embeddedIPv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6]!, g[7]!);
  if (zeros(0, 6) && (g[6]! !== 0 || g[7]! > 1)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return undefined;
}

/**
 * Why an IP address must not be reached by server-side requests that a user chose the target of
 * (SSRF): loopback, private (RFC 1918), link-local, cloud metadata, carrier-grade NAT, unique-local
 * IPv6, multicast, unspecified or reserved — also when carried inside an IPv6 address (IPv4-mapped,
 * NAT64, 6to4). Undefined for a public address. Anything that is not an IP address is `reserved`.
 */
export function blockedAddressKind(address: string): BlockedAddressKind | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return IPV4_LISTS.find(({ list }) => list.check(bare, 'ipv4'))?.kind;
  if (family === 6) {
    const inner = embeddedIPv4(bare);
    if (inner !== undefined) return IPV4_LISTS.find(({ list }) => list.check(inner, 'ipv4'))?.kind;
    return IPV6_LISTS.find(({ list }) => list.check(bare, 'ipv6'))?.kind;
  }
  return 'reserved';
}

/** True for loopback, private, link-local (incl. cloud metadata), CGNAT, multicast and reserved addresses. */
export function isNonPublicAddress(address: string): boolean {
  return blockedAddressKind(address) !== undefined;
}

/** True for the hostnames of cloud metadata services (`metadata.google.internal`, …), any case, trailing dot or not. */
export function isMetadataHostname(hostname: string): boolean {
  return BLOCKED_HOSTNAMES.has(hostname.toLowerCase().replace(/\.$/, ''));
}
