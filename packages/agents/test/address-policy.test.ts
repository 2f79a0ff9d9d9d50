import { describe, expect, it } from 'vitest';
import { blockedAddressKind, isMetadataHostname } from '../src/index.js';

describe('blockedAddressKind (the SSRF address policy)', () => {
  it('names the kind of every non-public range, also inside IPv6 addresses', () => {
    const cases: Array<[string, string | undefined]> = [
      ['93.184.215.14', undefined],
      ['2606:4700::1111', undefined],
      ['::ffff:8.8.8.8', undefined],
      ['127.0.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['10.0.0.5', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['169.254.169.254', 'cloud metadata'],
      ['fd00:ec2::254', 'cloud metadata'],
      ['169.254.170.23', 'cloud metadata'],
      ['fd00:ec2::23', 'cloud metadata'],
      ['fd20:ce::254', 'cloud metadata'],
      // Azure's WireServer sits in public address space: only the metadata rule refuses it.
      ['168.63.129.16', 'cloud metadata'],
      ['168.63.129.17', undefined],
      ['192.0.0.192', 'cloud metadata'],
      ['169.254.10.1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['100.64.0.1', 'carrier-grade NAT'],
      ['fd12:3456::1', 'unique-local'],
      ['224.0.0.251', 'multicast'],
      ['ff02::1', 'multicast'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['255.255.255.255', 'reserved'],
      ['not-an-ip', 'reserved'],
      // IPv4-mapped (dotted and hex), IPv4-compatible, NAT64 and 6to4 carry their IPv4 address's kind.
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:a00:5', 'private'],
      ['::7f00:1', 'loopback'],
      ['64:ff9b::169.254.169.254', 'cloud metadata'],
      ['2002:c0a8:101::1', 'private'],
    ];
    expect(cases.map(([address]) => [address, blockedAddressKind(address)])).toEqual(cases);
  });

  it('knows the cloud metadata hostnames, whatever the case or trailing dot', () => {
    expect(isMetadataHostname('Metadata.Google.Internal.')).toBe(true);
    expect(isMetadataHostname('instance-data.ec2.internal')).toBe(true);
    expect(isMetadataHostname('metadata.example.com')).toBe(false);
  });
});
