import { BlockList, isIP } from 'node:net';

// Loopback, private, link-local (and so cloud metadata), shared, multicast, reserved and
// unspecified ranges: nothing a tenant's webhook may reach unless WEBHOOK_ALLOW_PRIVATE=true.
const FORBIDDEN = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv6');
}

/**
 * Whether a webhook may not connect to `address` (an IPv4 or IPv6 literal). IPv6 forms that
 * carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`)
 * are judged by that IPv4 address. Anything that is not an IP literal is refused.
 */
export function isForbiddenAddress(address: string): boolean {
  const literal = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const version = isIP(literal);
  if (version === 4) return FORBIDDEN.check(literal, 'ipv4');
  if (version !== 6) return true;
  const words = ipv6Words(literal);
  const embedded = embeddedIpv4(words);
  if (embedded !== undefined) return FORBIDDEN.check(embedded, 'ipv4');
  return FORBIDDEN.check(literal, 'ipv6');
}

/** The eight 16-bit words of a valid IPv6 literal. */
function ipv6Words(literal: string): number[] {
  let text = literal.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((word) => parseInt(word, 16)) : [];
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

function embeddedIpv4(words: number[]): string | undefined {
  const first80Zero = words.slice(0, 5).every((word) => word === 0);
  const mapped = first80Zero && words[5] === 0xffff;
  // ::a.b.c.d, but not :: and ::1 themselves.
  const compatible = first80Zero && words[5] === 0 && (words[6] !== 0 || words[7] > 1);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => !w);
  if (!mapped && !compatible && !nat64) return undefined;
  return [words[6] >> 8, words[6] & 0xff, words[7] >> 8, words[7] & 0xff].join('.');
}

/** A webhook URL split into what the address checks need. */
export interface WebhookTarget {
  url: URL;
  /** The host without IPv6 brackets. */
  host: string;
  /** Whether `host` is an IP literal (which is connected to without a lookup). */
  isIpLiteral: boolean;
}

/** Parses an endpoint URL; undefined unless it is an absolute http(s) URL with a host. */
export function parseWebhookUrl(text: string): WebhookTarget | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { url, host, isIpLiteral: isIP(host) !== 0 };
}
